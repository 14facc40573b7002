"""Prompts for directed augmentation (TopEx §3): the cluster's name is the *issue*, the
target class is the *label*, zero-shot or with k examples.

Templates are named constants and a user may edit them; a template must contain
``{label}`` and ``{issue}`` and no other placeholder. The issue is what the target's texts
are about (its keywords); the class the model wrongly gives them is a sentence of its own.

A prompt is a conversation (``Prompt.messages``): the request, then each few-shot example
as an answer the model already gave, each followed by "another one": a small instruct
model then writes one more text of the same kind, where a list of examples inside one
message makes it talk about them, copy them or continue the list (measured in the
README). Examples are cut short. Text taken from dataset rows (the examples, the cluster
name) cannot end its turn or open another: tag-like text loses its angle brackets.
``Prompt.text`` is the conversation as one readable text, shown and stored with every
candidate.

A *rewrite* prompt (``build_rewrite_prompt``) asks for one new text from one source row (a
misclassified row of the region): same subject, same class, new wording; the source is
the prompt's only example, so EDA rewrites it too and the lineage names it.

Mixup-directed examples (after inversedMixup): a ratio λ in [0, 1] sets how many of the k
examples come from the error cluster (round(λ·k)) and how many from correctly classified
points of the target class; λ is recorded with the prompt.
"""

from __future__ import annotations

import json
import re
import string
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from topex_core.errors import SettingsError

TASK_TEMPLATES: dict[str, str] = {
    # the paper's IMDb prompt, kept word for word
    "review": "Generate a {label} movie review, choose a title based on the topic: '{issue}'.",
    "question": "Write one {label} question about the topic: '{issue}'.",
    "news": "Write a short {label} news article about the topic: '{issue}'.",
    "ticket": "Write one customer support message of the category {label} about: '{issue}'.",
    "nli": ("Write a premise and a hypothesis whose relation is {label}, about the topic: "
            "'{issue}'."),
    "text": "Write one text of the class {label} about the topic: '{issue}'.",
}
PAIR_TASKS = {"nli"}
FIELDS = {"label", "issue"}
CONFUSION = ("A classifier wrongly reads such texts as {wrong}; the new text must clearly be "
             "{label}.")
# what the target's rows share beyond their words (a structural term, a trait), stated as
# a requirement: "about the topic: 'premise has \"and\"'" asked for a text on a topic
FORMS = "One more requirement: {forms}."
OUTPUT_SINGLE = "Answer with the text only: no title, numbering, quotes or comments."
OUTPUT_PAIR = 'Answer with one JSON object only: {"premise": "...", "hypothesis": "..."}.'
ANOTHER = "Another one, different from those before."
REWRITE = ("Rewrite the text below as a new {label} text about the same subject ('{issue}'): "
           "new wording and details, the same class.")
REWRITE_PAIR = ("Rewrite the premise and hypothesis below as a new pair whose relation is "
                "{label}, about the same subject ('{issue}'): new wording, the same relation.")
ROLE_NAMES = {"user": "User", "assistant": "Assistant"}
MAX_EXAMPLE_CHARS = 600
# completion budget: subword tokenisers write about 1.3 tokens per English word, more for
# names and numbers; room for a text twice the longest example's length
TOKENS_PER_WORD = 1.5
ZERO_SHOT_TOKENS = 256
MAX_TOKENS = 1_024
TAG_LIKE = re.compile(r"</?\s*[a-zA-Z_][^<>]{0,40}>")


@dataclass(frozen=True)
class Example:
    text: str
    text_pair: str | None = None
    row_id: int | None = None  # the dataset row it was taken from, for lineage
    # "cluster" (the target region), "target" (correct, target class elsewhere) or
    # "rewrite" (the region's row a rewrite prompt starts from)
    source: str = "cluster"


@dataclass(frozen=True)
class Prompt:
    """What is sent to a generator and what it was built from. ``messages``: chat turns
    ({"role": "user" | "assistant", "content": …}), ending with a user turn; ``text``:
    the same as one readable transcript."""

    text: str
    messages: tuple[dict[str, str], ...]
    task: str
    label: str
    issue: str
    examples: tuple[Example, ...]
    mix_ratio: float | None
    template: str


def validate_template(template: str) -> str:
    """The template if it has exactly the fields {label} and {issue}; ValueError otherwise."""
    try:
        fields = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as error:
        raise SettingsError(f"the template is not a valid format string ({error}); write literal "
                         "braces as {{ and }}") from None
    missing, unknown = FIELDS - fields, fields - FIELDS
    if missing or unknown:
        problems = []
        if missing:
            problems.append(f"missing {', '.join('{' + f + '}' for f in sorted(missing))}")
        if unknown:
            problems.append(f"unknown {', '.join('{' + f + '}' for f in sorted(unknown))}")
        raise SettingsError(f"the template must use {{label}} and {{issue}} only: "
                         f"{'; '.join(problems)}")
    return template


def select_examples(cluster_rows: Sequence[tuple], target_rows: Sequence[tuple], *, k: int,
                    mix_ratio: float = 1.0, seed: int = 0) -> list[Example]:
    """k examples: round(mix_ratio·k) from the error cluster, the rest from the target class.

    Rows are (text, text_pair or None[, row id]). When one side has too few rows the other side
    fills in, so the result has min(k, available) examples.
    """
    if k < 0:
        raise SettingsError(f"k must be 0 or more, got {k}")
    if not 0.0 <= mix_ratio <= 1.0:
        raise SettingsError(f"the mixing ratio λ must be in [0, 1], got {mix_ratio}")
    rng = np.random.default_rng(seed)
    wanted_cluster = min(round(mix_ratio * k), len(cluster_rows))
    wanted_target = min(k - wanted_cluster, len(target_rows))
    wanted_cluster = min(k - wanted_target, len(cluster_rows))
    chosen = [Example(*cluster_rows[i], source="cluster")
              for i in rng.choice(len(cluster_rows), wanted_cluster, replace=False)]
    chosen += [Example(*target_rows[i], source="target")
               for i in rng.choice(len(target_rows), wanted_target, replace=False)]
    return chosen


def build_prompt(*, task: str, label: str, issue: str, examples: Sequence[Example] = (),
                 template: str | None = None, mix_ratio: float | None = None,
                 confused_with: str | None = None, forms: Sequence[str] = ()) -> Prompt:
    """The prompt for one generation request (zero-shot when ``examples`` is empty);
    ``confused_with`` is the class the model wrongly gives such texts, if any; ``forms``
    what every new text must be like beyond its subject (``Region.forms``)."""
    if task not in TASK_TEMPLATES:
        raise SettingsError(f"unknown task '{task}'; choose one of {', '.join(TASK_TEMPLATES)}")
    chosen_template = validate_template(template if template is not None
                                        else TASK_TEMPLATES[task])
    pair = task in PAIR_TASKS
    request = chosen_template.format(label=_inline(label), issue=_inline(issue))
    request += _requirements(label, confused_with, forms)
    messages = [{"role": "user", "content": f"{request} {OUTPUT_PAIR if pair else OUTPUT_SINGLE}"}]
    for example in examples:
        messages += [{"role": "assistant", "content": _render_example(example, pair)},
                     {"role": "user", "content": ANOTHER}]
    text = "\n\n".join(f"{ROLE_NAMES[m['role']]}: {m['content']}" for m in messages)
    return Prompt(text=text, messages=tuple(messages), task=task, label=label, issue=issue,
                  examples=tuple(examples), mix_ratio=mix_ratio, template=chosen_template)


def build_rewrite_prompt(*, task: str, label: str, issue: str, source: Example,
                         confused_with: str | None = None, forms: Sequence[str] = ()) -> Prompt:
    """The prompt to rewrite ``source`` (a row of the region, shown in the request) into a
    new text of class ``label`` (``confused_with``, ``forms``: as ``build_prompt``)."""
    if task not in TASK_TEMPLATES:
        raise SettingsError(f"unknown task '{task}'; choose one of {', '.join(TASK_TEMPLATES)}")
    pair = task in PAIR_TASKS
    template = REWRITE_PAIR if pair else REWRITE
    request = template.format(label=_inline(label), issue=_inline(issue))
    request += _requirements(label, confused_with, forms)
    shown = _render_example(source, pair)
    content = f"{request} {OUTPUT_PAIR if pair else OUTPUT_SINGLE}\n\nText: {shown}"
    messages = ({"role": "user", "content": content},)
    source = Example(source.text, source.text_pair, source.row_id, source="rewrite")
    return Prompt(text=f"{ROLE_NAMES['user']}: {content}", messages=messages, task=task,
                  label=label, issue=issue, examples=(source,), mix_ratio=None,
                  template=template)


def _requirements(label: str, confused_with: str | None, forms: Sequence[str]) -> str:
    """The sentences after the request: the class the model wrongly gives such texts
    (when another), then the forms a new text must have."""
    said = ""
    if confused_with and confused_with != label:
        said += " " + CONFUSION.format(wrong=_inline(confused_with), label=_inline(label))
    if forms:
        said += " " + FORMS.format(forms="; ".join(forms))
    return said


def completion_budget(prompt: Prompt) -> int:
    """Tokens for one completion of ``prompt``: room for a text twice as long as its
    longest example as shown (both sides of a pair, plus the JSON around them), capped at
    ``MAX_TOKENS``; ``ZERO_SHOT_TOKENS`` without examples."""
    if not prompt.examples:
        return ZERO_SHOT_TOKENS
    longest = max(len(neutralise(example.text).split())
                  + len(neutralise(example.text_pair or "").split())
                  for example in prompt.examples)
    overhead = 24 if prompt.task in PAIR_TASKS else 16
    return int(min(MAX_TOKENS, 2 * TOKENS_PER_WORD * longest + overhead))


def typical_words(prompt: Prompt) -> int | None:
    """The median word count of the prompt's examples as shown (None without examples)."""
    if not prompt.examples:
        return None
    return int(np.median([len(neutralise(example.text).split())
                          for example in prompt.examples]))


def neutralise(text: str, *, limit: int = MAX_EXAMPLE_CHARS) -> str:
    """Row text made safe to embed: tag-like sequences lose their angle brackets, and the
    text is cut to ``limit`` characters at a word boundary (with an ellipsis)."""
    cleaned = TAG_LIKE.sub(lambda match: match.group(0).strip("<>").strip("/ "), text)
    cleaned = cleaned.replace("<", "‹").replace(">", "›")
    if len(cleaned) <= limit:
        return cleaned
    cut = cleaned[: limit - 1]
    return (cut.rsplit(" ", 1)[0] if " " in cut[limit // 2:] else cut) + "…"


def _render_example(example: Example, pair: bool) -> str:
    if pair:
        return json.dumps({"premise": neutralise(example.text),
                           "hypothesis": neutralise(example.text_pair or "")},
                          ensure_ascii=False)
    return neutralise(example.text)


def _inline(value: str) -> str:
    """A label or cluster name on one line, without quotes that would end the topic."""
    return " ".join(neutralise(str(value), limit=200).replace("'", "’").split())
