"""Checks of what a language model wrote, beside the dataset checks of ``checks.py``: a
small instruct model often answers the prompt instead of writing a sample.

- meta-talk: the text talks about the task ("Here is an example…", "The label is…",
  "As an AI…"), a reply rather than a sample;
- refusal: "I'm sorry, I can't…";
- echo: the text repeats one of the prompt's few-shot examples: the example contained
  whole, or at least ``ECHO_SHARE`` of the text's words taken from it in order (difflib's
  matching blocks over words). A short question with one new word ("What does PI stand
  for?" after "What does BMW stand for?") is a new sample, not an echo;
- repetition: the text loops (share of its word 3-grams that repeat an earlier one).

A phrase counts only where the dataset itself rarely says it (in under ``MAX_DATA_RATE``
of its rows): reviews may well say "here is", and a phrase the data uses is no sign of a
reply. Pure functions of text; no model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher

from topex_core.augmenter.prompts import Example

ECHO_SHARE = 0.9
REPETITION_SHARE = 0.3
MAX_DATA_RATE = 0.01
META_TALK = {
    "assistant preamble": r"^\s*(sure|certainly|of course|absolutely|okay)\b[\s,!.:]",
    "presents an answer": r"\b(here is|here's|here are|below is|the following is)\b",
    "names the task": r"\b(this|the|the above|the following|that|my|an?) (example|sample|"
                      r"ticket|review|text|sentence|response|output)s? (is|are|was|shows|"
                      r"describes|illustrates)\b",
    "states a label": r"\b(label|category|class|sentiment)\s*(:|=|is\b)",
    "speaks as an AI": r"\bas an? (ai|language model|assistant|[a-z ]{0,30} ai)\b",
    "offers help": r"\b(i hope this helps|i('m| am) here to help|let me know if)\b",
}
REFUSAL = (r"\b(i('m| am) (sorry|unable|not able)|i can(not|'t|\s+not) (help|assist|"
           r"provide|write|create|generate|do)|i apologi[sz]e|i won't)\b")


@dataclass(frozen=True)
class OutputChecks:
    """What :func:`check_output` found in one text (None or False where nothing)."""

    meta_talk: str | None
    refusal: bool
    echo_of: int | None
    echo_ratio: float
    repetition: float

    def to_json(self) -> dict:
        return {"meta_talk": self.meta_talk, "refusal": self.refusal, "echo_of": self.echo_of,
                "echo_ratio": round(self.echo_ratio, 3), "repetition": round(self.repetition, 3)}

    def findings(self) -> list[tuple[str, str]]:
        """(check, message) for each problem found."""
        found = []
        if self.meta_talk:
            found.append(("meta-talk", f"talks about the task ({self.meta_talk}), not a sample"))
        if self.refusal:
            found.append(("refusal", "a refusal, not a sample"))
        if self.echo_of is not None:
            found.append(("echo", f"repeats a prompt example (row {self.echo_of}, "
                                  f"{self.echo_ratio:.0%} the same)"))
        if self.repetition >= REPETITION_SHARE:
            found.append(("repetition", f"repeats itself ({self.repetition:.0%} of its phrases)"))
        return found


class OutputChecker:
    """Checks with the phrases the dataset itself uses (``reference_texts``) allowed."""

    def __init__(self, reference_texts: Sequence[str]) -> None:
        rows = max(1, len(reference_texts))
        lowered = [text.lower() for text in reference_texts]
        self.meta_talk = {name: re.compile(pattern) for name, pattern in META_TALK.items()
                          if sum(bool(re.search(pattern, text)) for text in lowered) / rows
                          < MAX_DATA_RATE}
        refusals = sum(bool(re.search(REFUSAL, text)) for text in lowered) / rows
        self.refusal = re.compile(REFUSAL) if refusals < MAX_DATA_RATE else None

    def check(self, text: str, examples: Sequence[Example] = ()) -> OutputChecks:
        lowered = text.lower()
        meta = next((name for name, pattern in self.meta_talk.items()
                     if pattern.search(lowered)), None)
        echo_of, echo_ratio = _echo(lowered, examples)
        return OutputChecks(meta_talk=meta,
                            refusal=bool(self.refusal and self.refusal.search(lowered)),
                            echo_of=echo_of, echo_ratio=echo_ratio,
                            repetition=repetition(lowered))


def repetition(text: str) -> float:
    """Share of the text's word 3-grams that occurred earlier in it (0 for short texts)."""
    words = re.findall(r"\w+", text.lower())
    grams = [tuple(words[i:i + 3]) for i in range(len(words) - 2)]
    if len(grams) < 6:
        return 0.0
    return 1.0 - len(set(grams)) / len(grams)


def _echo(lowered: str, examples: Sequence[Example]) -> tuple[int | None, float]:
    """(row id of the example the text repeats, or None; the highest share of the text's
    words taken from one example)."""
    best_row, best = None, 0.0
    for example in examples:
        reference = example.text.lower()
        if len(reference) >= 20 and reference in lowered:
            return example.row_id, 1.0
        share = echo_share(lowered, reference)
        if share > best:
            best_row, best = example.row_id, share
    return (best_row if best >= ECHO_SHARE else None), best


def echo_share(lowered: str, reference: str) -> float:
    """The share of the words of ``lowered`` taken from ``reference`` in order (difflib's
    matching blocks over words); both lower-cased."""
    words = re.findall(r"\w+", lowered)
    matcher = SequenceMatcher(None, words, re.findall(r"\w+", reference), autojunk=False)
    return sum(block.size for block in matcher.get_matching_blocks()) / max(len(words), 1)
