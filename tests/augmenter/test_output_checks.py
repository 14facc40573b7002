from __future__ import annotations

import pytest

from topex_core.augmenter.output_checks import OutputChecker, repetition
from topex_core.augmenter.prompts import Example

TICKETS = ["my invoice was charged twice, please refund the card",
           "the parcel is late and the tracking page is empty",
           "I was billed for a plan I cancelled last month"] * 40
EXAMPLES = [Example("my invoice was charged twice, please refund the card", row_id=7),
            Example("the parcel is late and the tracking page is empty", row_id=9)]


@pytest.mark.parametrize(("text", "meta"), [
    ("Sure! Here is a ticket: my bill is wrong", "assistant preamble"),
    ("Here's an example of a billing ticket about a double charge.", "presents an answer"),
    ("The example is an example of a movie review that is not a movie review.",
     "names the task"),
    ("Label: billing. My card was charged twice.", "states a label"),
    ("As a customer support AI, I will write a ticket.", "speaks as an AI"),
    ("I was charged twice for one order, why?", None),
])
def test_meta_talk(text: str, meta: str | None) -> None:
    result = OutputChecker(TICKETS).check(text)
    assert result.meta_talk == meta
    assert [check for check, _ in result.findings()] == (["meta-talk"] if meta else [])


def test_refusals_echoes_and_loops() -> None:
    checker = OutputChecker(TICKETS)
    refusal = checker.check("As a customer support AI, I'm unable to write that ticket.")
    assert refusal.refusal and ("refusal", "a refusal, not a sample") in refusal.findings()
    echo = checker.check("My invoice was charged twice, please refund the card!", EXAMPLES)
    assert echo.echo_of == 7 and echo.echo_ratio > 0.9
    assert echo.findings()[0][0] == "echo"
    assert "repeats a prompt example (row 7" in echo.findings()[0][1]
    appended = checker.check("my invoice was charged twice, please refund the card. The "
                             "example shows a billing problem.", EXAMPLES)
    assert appended.echo_of == 7 and appended.echo_ratio == 1.0
    fresh = checker.check("the app logs me out every time I open my billing history",
                          EXAMPLES)
    assert fresh.echo_of is None and fresh.findings() == []
    # a short question with one new word is a new sample of the same kind, not an echo
    template = [Example("What does BMW stand for ?", row_id=3)]
    assert checker.check("What does PI stand for?", template).echo_of is None
    assert checker.check("What does BMW stand for?", template).echo_of == 3
    loop = "of the oil industry is delaying Iraq oil exports from the north " * 4
    assert repetition(loop) > 0.6
    check, message = checker.check(loop).findings()[0]
    assert check == "repetition" and message.startswith("repeats itself (")
    assert repetition("short text") == 0.0


def test_phrases_the_data_itself_uses_are_not_meta_talk() -> None:
    reviews = ["here is my honest take: the film drags", "i'm sorry but this was dull"] * 50
    checker = OutputChecker(reviews + TICKETS)
    result = checker.check("Here is the thing: I'm sorry I watched it.")
    assert result.meta_talk is None and not result.refusal
