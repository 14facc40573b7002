from __future__ import annotations

from topex_core.explorer.terms import phrases


def test_phrases_keep_content_words_negations_and_particle_bigrams() -> None:
    assert phrases("What does NASA stand for?") == ["does", "nasa", "stand", "does nasa",
                                                    "nasa stand", "stand for"]
    assert "not" in phrases("it was not funny") and "not funny" in phrases("it was not funny")
    assert phrases("of the and") == []
    assert "courier is" not in phrases("the courier is late")


def test_phrases_of_other_scripts_and_emoji() -> None:
    assert phrases("Привет мир") == ["привет", "мир", "привет мир"]
    assert phrases("😀😀 🎉") == []


def test_a_negated_auxiliary_is_one_term_whichever_apostrophe() -> None:
    """Not "doesn" (no word) and not "can" (a stop word): the negation a review turns on."""
    assert phrases("It doesn't work") == ["doesn't", "work", "doesn't work"]
    assert phrases("It doesn’t work") == phrases("It doesn't work")
    assert phrases("I can't stop") == ["can't", "stop", "can't stop"]
    assert phrases("the film's star") == ["film", "star", "film star"]


def test_a_pair_has_structural_terms_a_single_text_has_none() -> None:
    """Which function words each side holds, and how the hypothesis sits in the premise:
    what HANS's templates differ by, and what the stop-word list drops."""
    from topex_core.explorer.terms import is_structural, row_terms, structure

    passive = structure("The actor was paid by the doctor . || The doctor paid the actor .")
    assert 'premise has "by"' in passive and 'premise has "was"' in passive
    assert "every hypothesis word in the premise" in passive
    assert "hypothesis inside the premise" not in passive  # not word for word
    conjunction = structure("The judge and the lawyer slept . || The lawyer slept .")
    assert conjunction == ['every hypothesis word in the premise',
                           'hypothesis inside the premise', 'premise has "and"',
                           'premise has a conjunction, hypothesis inside the premise']
    assert "premise has a preposition, hypothesis reorders the premise's words" in passive
    assert "premise has a passive auxiliary, hypothesis reorders the premise's words" in passive
    ordered = structure("The judge next to the lawyer slept . || The judge slept .")
    assert "premise has a preposition, hypothesis words in the premise's order" in ordered
    assert "hypothesis words in the premise's order" not in ordered  # only crossed
    assert structure("The judge slept . || The lawyer slept .") == []  # a new word
    swap = structure("The banker thanked the author . || The author thanked the banker .")
    assert "hypothesis is the premise's words in another order" in swap
    assert "hypothesis is the premise's words in another order" not in passive
    assert structure("what was paid by the doctor") == []  # one text: its words say it
    assert all(is_structural(term) for term in passive)
    assert not is_structural("doctor") and not is_structural("premise")
    terms = row_terms("The judge and the lawyer slept . || The lawyer slept .")
    assert "judge" in terms and 'premise has "and"' in terms


def test_a_single_text_has_traits_a_pair_has_none() -> None:
    """How long a text is, and whether it negates (contractions too), holds a number, asks
    or exclaims: terms of their own, said the same for any row."""
    from topex_core.explorer.terms import is_structural, length_term, row_terms, traits

    assert traits("I didn't like it at all!") == [
        "a text of 5–9 words", "has a negation", "has an exclamation mark"]
    assert traits("What does NASA stand for ?") == ["a text of 5–9 words", "asks a question"]
    assert traits("Never 3 stars") == [
        "a text of 1–4 words", "has a negation", "has a number"]
    assert traits("Nothing works") == ["a text of 1–4 words", "has a negation"]
    assert traits("-- ...") == ["a text of no words"]
    assert traits("The judge slept . || The lawyer slept .") == []
    assert [length_term(n) for n in (1, 4, 5, 49, 50, 999, 1_000, 20_000)] == [
        "a text of 1–4 words", "a text of 1–4 words", "a text of 5–9 words",
        "a text of 20–49 words", "a text of 50–99 words", "a text of 500–999 words",
        "a text of 1,000 words or more", "a text of 1,000 words or more"]
    terms = row_terms("Not funny at all!")
    assert "funny" in terms and "has a negation" in terms
    assert all(is_structural(term) for term in traits("Isn't it 5 o'clock?"))
    assert not is_structural("funny")


def test_every_structural_term_and_trait_reads_as_a_requirement_words_do_not() -> None:
    """What a generator is asked for when a region is a form, not a subject: each
    structural term of a pair and each trait of a text is phrased; words are not."""
    from topex_core.explorer.terms import form, phrases, row_terms, structure, traits

    pairs = ["The doctor near the actor danced . || The actor danced .",
             "The judge and the lawyer slept . || The lawyer slept .",
             "The banker who the author saw ran . || The author ran .",
             "The banker thanked the author . || The author thanked the banker ."]
    singles = ["I didn't like it at all!", "What does NASA stand for ?", "Never 3 stars"]
    formal = [term for text in pairs for term in structure(text)] + [
        term for text in singles for term in traits(text)]
    assert len(set(formal)) >= 15
    assert all(form(term) for term in formal)
    assert form('premise has "and"') == 'the premise contains the word "and"'
    assert form("premise has a relative pronoun, hypothesis reorders the premise's words") == (
        "the premise contains a relative pronoun (that, which, who, whom, whose), and every "
        "word of the hypothesis is in the premise, in another order")
    assert form("a text of 20–49 words") == "it has 20–49 words"
    assert form("asks a question") == "it asks a question"
    assert form("has a negation").startswith("it negates (not, no, never")
    text = "What does NASA stand for ?"
    assert [term for term in row_terms(text) if form(term) is None] == phrases(text)
