"""The terms the explorer reads in a text: words and two-word phrases an analyst can name.

One analyzer serves error slices and cluster names, so that a slice and a cluster keyword
mean the same rows. Lower-cased word tokens of two or more characters (scikit-learn's
default token pattern, Unicode-aware), with a negated auxiliary kept whole: that pattern
cuts "doesn't" into "doesn", which names nothing (a region on real reviews read "doesn ·
isn"), and "can't" into "can", a stop word. Unigrams that are English stop words are
dropped, and bigrams are kept when their first word is not one and their second is not
one either or is a particle that completes a verb ("stand for", "new york", "not funny",
"turn up" stay; "of the", "the game", "courier is" go). Negations are not stop words here: "not",
"no", "never" are exactly where sentiment models fail.

A sentence pair (``texts.PAIR_SEPARATOR`` between premise and hypothesis) also has
*structural* terms (``structure``), what its words and phrases cannot say: which
function words each side holds (``premise has "and"``, ``hypothesis has "by"``: the
conjunctions, relative pronouns, passive auxiliaries and prepositions that the stop-word
list drops, and where they stand), and whether every hypothesis word is in the premise
or the hypothesis stands inside it word for word. Each part of speech of those words
(``STRUCTURE_CLASSES``) is also crossed with how the hypothesis's words lie in the premise —
inside it word for word, in its order with words between, or reordered (``premise has a
relative pronoun, hypothesis reorders the premise's words``): one construction, whichever
of its words it takes ("who" or "that"), and told apart from another with the same word.
A hypothesis made of exactly the premise's words in another order (the subject and object
swapped) is a term of its own.
NLI models fail by such structure (HANS's templates).

A single text has *traits* (``traits``), what it is like beyond its words: how long it is
(``a text of 20–49 words``, in buckets of 1-2-5 steps), whether it negates (``has a
negation``: "not", "never", "nothing", "didn't"), holds a number, asks a question or
exclaims.
Classifiers fail on long inputs, on negation and on numbers whatever the subject, and one
trait holds what many words hold apart. (A word in capitals was one too, and dropped: an
acronym, an agency and a shout share no failure, and on TREC it pushed a real failure
out of the ten strongest regions.) A trait names its rows
without the dataset's help, so a test row or a candidate has it or not on its own.
``row_terms`` is a row's phrases, structural terms and traits: what error slices count,
and how a test row or a candidate joins a slice.
"""

from __future__ import annotations

import re

from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, CountVectorizer

from topex_core.data.texts import PAIR_SEPARATOR

NEGATIONS = frozenset({"not", "no", "nor", "never", "nothing", "none", "cannot", "nobody",
                       "neither", "nowhere"})
STOP_WORDS = frozenset(ENGLISH_STOP_WORDS - NEGATIONS)
PARTICLES = frozenset({"for", "up", "out", "off", "on", "in", "down", "over", "about",
                       "with", "away", "back", "through"})
_NEGATED_AUXILIARY = r"\b\w+n['’]t\b"  # "doesn't", "can’t": one token, one negation
_TOKEN = re.compile(rf"(?u){_NEGATED_AUXILIARY}|\b\w\w+\b")
_WORD = re.compile(r"(?u)\b\w+\b")
# words as a reader counts them, runs between spaces holding a letter or a digit ([^\W_]:
# what str.isalnum accepts): "didn't" is one, "--" none
_READER_WORD = re.compile(r"\S*[^\W_]\S*")
# function words whose place in a pair carries its structure, by their part of speech
STRUCTURE_CLASSES = {
    "conjunction": frozenset({"and", "or", "but", "nor"}),
    "relative pronoun": frozenset({"who", "whom", "whose", "which", "that"}),
    "subordinator": frozenset({"if", "because", "since", "after", "before", "while",
                               "although", "though", "unless", "whether", "until"}),
    "passive auxiliary": frozenset({"was", "were", "been", "being"}),
    "negation": frozenset({"not", "no"}),
    "preposition": frozenset({"by", "to", "in", "on", "at", "near", "behind", "next",
                              "beside", "under", "above", "with", "without", "from"}),
    "sentence adverb": frozenset({"probably", "certainly", "maybe", "perhaps", "supposedly",
                                  "definitely", "clearly"}),
}
STRUCTURE_WORDS = frozenset().union(*STRUCTURE_CLASSES.values())
ALL_IN_PREMISE = "every hypothesis word in the premise"
INSIDE_PREMISE = "hypothesis inside the premise"
IN_ORDER = "hypothesis words in the premise's order"
REORDERED = "hypothesis reorders the premise's words"
SAME_WORDS = "hypothesis is the premise's words in another order"
CROSS_SEPARATOR = ", "  # a part of speech crossed with the overlap: "premise has a …, …"
# a single text's traits (``traits``); lengths in words, in steps of 1-2-5
LENGTH_BUCKETS = (1, 5, 10, 20, 50, 100, 200, 500, 1_000)
LENGTH_PREFIX = "a text of "
HAS_NEGATION = "has a negation"
HAS_NUMBER = "has a number"
ASKS = "asks a question"
EXCLAIMS = "has an exclamation mark"
_CONTRACTED_NEGATION = re.compile(rf"(?u){_NEGATED_AUXILIARY}")
# a structural term or trait as a requirement on a new text (``form``)
_OVERLAP_FORMS = {
    ALL_IN_PREMISE: "every word of the hypothesis is in the premise",
    INSIDE_PREMISE: "the hypothesis stands word for word inside the premise",
    IN_ORDER: ("every word of the hypothesis is in the premise, in the premise's order with "
               "other words between"),
    REORDERED: "every word of the hypothesis is in the premise, in another order",
    SAME_WORDS: "the hypothesis is exactly the premise's words in another order",
}
_TRAIT_FORMS = {
    HAS_NEGATION: "it negates (not, no, never, nothing, or a verb ending in n't)",
    HAS_NUMBER: "it holds a number",
    ASKS: "it asks a question",
    EXCLAIMS: "it holds an exclamation mark",
}


def phrases(text: str) -> list[str]:
    """The unigrams and bigrams of ``text`` that the explorer counts (see the module)."""
    tokens = _TOKEN.findall(text.lower().replace("’", "'"))
    kept = [token for token in tokens if token not in STOP_WORDS]
    kept += [f"{first} {second}" for first, second in zip(tokens, tokens[1:], strict=False)
             if first not in STOP_WORDS
             and (second not in STOP_WORDS or second in PARTICLES)]
    return kept


def structure(text: str) -> list[str]:
    """The structural terms of a sentence pair joined by ``PAIR_SEPARATOR`` (see the
    module); none for a single text."""
    premise, separator, hypothesis = text.partition(PAIR_SEPARATOR)
    if not separator:
        return []
    sides = {"premise": _WORD.findall(premise.lower()),
             "hypothesis": _WORD.findall(hypothesis.lower())}
    found = [f'{side} has "{word}"' for side, words in sides.items()
             for word in STRUCTURE_WORDS.intersection(words)]
    overlap = _overlap(sides["premise"], sides["hypothesis"])
    if overlap:
        # an order alone holds several constructions at once (HANS: four templates of
        # non-entailment reorder the premise's words); with a part of speech, one
        found += [f"{side} has a {name}{CROSS_SEPARATOR}{overlap}"
                  for side, words in sides.items()
                  for name, members in STRUCTURE_CLASSES.items()
                  if members.intersection(words)] + [ALL_IN_PREMISE]
        if overlap == INSIDE_PREMISE:
            found.append(INSIDE_PREMISE)
        if overlap == REORDERED and sorted(sides["premise"]) == sorted(sides["hypothesis"]):
            found.append(SAME_WORDS)  # "the banker thanked the author": who did what
    return sorted(found)


def _overlap(premise: list[str], hypothesis: list[str]) -> str:
    """How the hypothesis's words lie in the premise: inside it word for word, in its
    order with words between, in another order; "" when a hypothesis word is not in it."""
    if not hypothesis or not set(hypothesis) <= set(premise):
        return ""
    if f" {' '.join(hypothesis)} " in f" {' '.join(premise)} ":
        return INSIDE_PREMISE
    remaining = iter(premise)
    return IN_ORDER if all(word in remaining for word in hypothesis) else REORDERED


def traits(text: str) -> list[str]:
    """What a single text is like beyond its words (see the module); none for a sentence
    pair, whose ``structure`` says that."""
    if PAIR_SEPARATOR in text:
        return []
    found = [length_term(len(_READER_WORD.findall(text)))]
    if NEGATIONS.intersection(_WORD.findall(text.lower())) or \
            _CONTRACTED_NEGATION.search(text):
        found.append(HAS_NEGATION)
    if any(map(str.isdigit, text)):
        found.append(HAS_NUMBER)
    if "?" in text:
        found.append(ASKS)
    if "!" in text:
        found.append(EXCLAIMS)
    return found


def length_term(words: int) -> str:
    """The length bucket of a text of ``words`` words: "a text of 20–49 words"."""
    if words < LENGTH_BUCKETS[0]:
        return f"{LENGTH_PREFIX}no words"
    below = max(bound for bound in LENGTH_BUCKETS if bound <= words)
    above = next((bound for bound in LENGTH_BUCKETS if bound > words), None)
    if above is None:
        return f"{LENGTH_PREFIX}{below:,} words or more"
    return f"{LENGTH_PREFIX}{below}–{above - 1} words"


def form(term: str) -> str | None:
    """What a row with the structural term or trait ``term`` is like, as a requirement a
    generator can follow ("the premise contains the word \"and\"", "it asks a
    question"); None for words and phrases, which say what a text is about instead."""
    if term in _OVERLAP_FORMS:
        return _OVERLAP_FORMS[term]
    if term in _TRAIT_FORMS:
        return _TRAIT_FORMS[term]
    if term.startswith(LENGTH_PREFIX):
        return f"it has {term.removeprefix(LENGTH_PREFIX)}"
    side, has, held = term.partition(" has ")
    if side not in ("premise", "hypothesis") or not has:
        return None
    if held.startswith('"'):
        return f"the {side} contains the word {held}"
    article_and_name, crossed, overlap = held.partition(CROSS_SEPARATOR)
    members = STRUCTURE_CLASSES.get(article_and_name.removeprefix("a "))
    if members is None:
        return None
    found = f"the {side} contains {article_and_name} ({', '.join(sorted(members))})"
    return f"{found}, and {_OVERLAP_FORMS[overlap]}" if crossed else found


def is_structural(term: str) -> bool:
    """Whether ``term`` is a structural term (``structure``) or a trait (``traits``),
    not words of the text."""
    return form(term) is not None


def row_terms(text: str) -> list[str]:
    """A row's phrases and its structural terms (a sentence pair) or traits (a single
    text)."""
    return phrases(text) + structure(text) + traits(text)


def term_vectorizer(*, min_rows: int = 1, analyzer=phrases) -> CountVectorizer:
    """A binary document-term counter with ``analyzer`` (``phrases``; ``row_terms`` for
    slices); terms in fewer than ``min_rows`` texts are left out."""
    return CountVectorizer(analyzer=analyzer, binary=True, min_df=min_rows)
