"""Raw completions → clean candidate texts.

What a generator writes around the text is removed: chat-template tokens and role
markers, a polite lead-in line ("Sure! Here is a review:"), code fences, list numbering
and bullets, a ``Title:`` marker, and quotes wrapping the whole text. A completion that
is a list of several items becomes several candidates. Pair tasks (NLI) are read from a
JSON object (or a list of them) with ``premise`` and ``hypothesis``, or from
``Premise: … Hypothesis: …`` lines. Empty results are dropped; a text is one line.
Given the examples' typical length, a single text ends at the first paragraph break where
it has reached that length: what a small model writes after its sample (a comment, the
next example) is not part of it.
Candidates without a single letter (list debris such as "2. -"), and candidates longer than
``MAX_CHARS`` (a runaway generation) are dropped too; at most ``MAX_ITEMS`` are read from
one completion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

MIN_CHARS = 2
MAX_CHARS = 20_000  # longer than any sample worth vetting by hand; 1 MB answers happen
MAX_ITEMS = 100
SCAFFOLDING = re.compile(
    r"<\|im_(?:start|end)\|>(?:assistant|user|system)?|<\|[a-z_]+\|>|</?s>|\[/?INST\]"
    r"|<(?:start|end)_of_turn>(?:model|user)?|<\|eot_id\|>|<\|start_header_id\|>\w*"
    r"<\|end_header_id\|>", re.IGNORECASE)
# "Text:" and its kin: the label a rewrite prompt puts before the row, echoed back
ROLE_PREFIX = re.compile(r"^\s*(?:assistant|ai|bot|model|answer|response|output|rewrite"
                         r"|(?:the\s+)?(?:new\s+|rewritten\s+)?text(?:\s+is)?)\s*:\s*",
                         re.IGNORECASE)
HEADER_PREFIX = re.compile(r"^\s*#{1,6}\s*(?:response|answer|output)\s*:?\s*$", re.IGNORECASE)
ROLE_LINE = re.compile(r"^\s*(?:assistant|model|system|user)\s*:?\s*$", re.IGNORECASE)
LEAD_IN = re.compile(r"^\s*(?:sure|certainly|of course|okay|ok|here(?:'s| is| are))\b[^\n]*:\s*$",
                     re.IGNORECASE)
# a short first line ending with a colon ("The new text is:") announces the sample
SHORT_LEAD_IN = re.compile(r"^\s*(?:\S+\s+){0,7}\S+:\s*$")
FENCE = re.compile(r"^\s*```[a-zA-Z]*\s*$")
LIST_ITEM = re.compile(r"^\s*(?:\d{1,3}[.)]|[-*•])\s+")
TITLE = re.compile(r"^\s*\**title(?::\**|\**:)\s*", re.IGNORECASE)
QUOTES = {'"': '"', "'": "'", "“": "”", "‘": "’", "«": "»"}
PAIR_LINES = re.compile(r"premise\s*:\s*(?P<premise>.+?)\s*hypothesis\s*:\s*(?P<hypothesis>.+?)"
                        r"(?=\s*(?:\d{1,3}[.)]\s*)?premise\s*:|\Z)",
                        re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True)
class ParsedText:
    text: str
    text_pair: str | None = None


def parse_output(raw: str, *, pair: bool, typical_words: int | None = None) -> list[ParsedText]:
    """Clean candidates from one raw completion (possibly none, possibly several);
    ``typical_words``: the examples' median length in words, if there were examples."""
    body = _strip_scaffolding(raw)
    parsed = _parse_pairs(body) if pair else _parse_single(body, typical_words)
    unique = dict.fromkeys(item for item in parsed
                           if len(item.text) + len(item.text_pair or "") <= MAX_CHARS
                           and any(character.isalpha() for character in item.text))
    return list(unique)[:MAX_ITEMS]


def clean_text(text: str) -> str:
    """One line, without list markers, markdown emphasis or wrapping quotes."""
    line = " ".join(LIST_ITEM.sub("", TITLE.sub("", text)).split())
    line = re.sub(r"^\*\*(.+?)\*\*:?\s*", r"\1 ", line).strip()
    while len(line) >= 2 and QUOTES.get(line[0]) == line[-1] and line[0] not in line[1:-1]:
        line = line[1:-1].strip()
    return line


def _strip_scaffolding(raw: str) -> str:
    text = SCAFFOLDING.sub("\n", raw)
    lines = [line for line in text.splitlines()
             if not FENCE.match(line) and not HEADER_PREFIX.match(line)]
    while lines and (not lines[0].strip() or LEAD_IN.match(lines[0])
                     or SHORT_LEAD_IN.match(lines[0]) or ROLE_LINE.match(lines[0])):
        lines.pop(0)
    if lines:
        lines[0] = ROLE_PREFIX.sub("", lines[0])
    return "\n".join(lines).strip()


def _parse_single(body: str, typical_words: int | None) -> list[ParsedText]:
    lines = [line for line in body.splitlines() if line.strip()]
    items = [line for line in lines if LIST_ITEM.match(line)]
    if len(items) >= 2 and len(items) == len(lines):
        texts = [clean_text(item) for item in items]
    else:
        texts = [clean_text(" ".join(_first_sample(body, typical_words)))]
    return [ParsedText(text) for text in texts if len(text) >= MIN_CHARS]


def _first_sample(body: str, typical_words: int | None) -> list[str]:
    """The body's paragraphs up to the first one that brings it to ``typical_words``."""
    kept: list[str] = []
    words = 0
    for paragraph in re.split(r"\n\s*\n", body):
        if not paragraph.strip():
            continue
        kept.append(paragraph)
        words += len(paragraph.split())
        if typical_words is not None and words >= typical_words:
            break
    return kept


def _parse_pairs(body: str) -> list[ParsedText]:
    pairs = _json_pairs(body)
    if not pairs:
        pairs = [(match["premise"], match["hypothesis"]) for match in PAIR_LINES.finditer(body)]
    cleaned = [(clean_text(premise), clean_text(hypothesis)) for premise, hypothesis in pairs]
    return [ParsedText(premise, hypothesis) for premise, hypothesis in cleaned
            if len(premise) >= MIN_CHARS and len(hypothesis) >= MIN_CHARS]


def _json_pairs(body: str) -> list[tuple[str, str]]:
    start = min((i for i in (body.find("{"), body.find("[")) if i >= 0), default=-1)
    if start < 0:
        return []
    try:
        value, _ = json.JSONDecoder().raw_decode(body[start:])
    except json.JSONDecodeError:
        return []
    objects = value if isinstance(value, list) else [value]
    pairs = []
    for item in objects:
        if not isinstance(item, dict):
            continue
        fields = {str(key).lower(): item[key] for key in item}
        premise, hypothesis = fields.get("premise"), fields.get("hypothesis")
        if isinstance(premise, str) and isinstance(hypothesis, str):
            pairs.append((premise, hypothesis))
    return pairs
