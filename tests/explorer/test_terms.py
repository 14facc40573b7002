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
