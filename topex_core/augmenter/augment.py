"""Directed augmentation of one target (an error cluster or an error slice): prompt →
backend → parse → check → store.

The dashboard and ``topex generate`` both call ``prepare_prompts`` (the prompt is shown
and can be edited before anything is generated) and then ``generate_candidates``, which
writes every parsed candidate to the store with its lineage (prompt, backend, model,
sampling parameters, seed, mixing ratio λ, the example rows; the store adds the time)
and the automatic checks. When a backend fails part-way, the completions that did arrive
are still parsed, checked and stored; the outcome carries the error.

Three modes (``AugmentRequest.mode``): ``free`` asks n times for a new text about the
target, with few-shot examples; ``rewrite`` turns misclassified rows of the target into new
texts of the same label, one prompt per source row, each candidate's lineage naming its
source row (``source_id``); ``complement`` rewrites the region's rows of *other* labels
(those holding a slice's terms, or in a cluster, with another true label), misclassified
ones first, each into a new text of its own label. Samples of the complement beside
those of the target make a *balanced round*: the boundary has to move for what the
target means, not toward its label for everything near it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from topex_core.augmenter.checks import CandidateChecker
from topex_core.augmenter.generation import (
    Backend,
    Generated,
    GenerationError,
    ParsedText,
    Sampling,
    parse_output,
)
from topex_core.augmenter.generation.base import GenerationCancelled, OnDelta
from topex_core.augmenter.prompts import (
    PAIR_TASKS,
    TASK_TEMPLATES,
    Example,
    Prompt,
    build_prompt,
    build_rewrite_prompt,
    typical_words,
)
from topex_core.augmenter.sources import choose_examples, complement_sources, rewrite_sources
from topex_core.data.texts import joined_text
from topex_core.errors import RunError, SettingsError
from topex_core.explorer.explored import NO_SHARED_WORDING, ExploredRun, Region
from topex_core.region_ref import RegionRef
from topex_core.storage.store import Candidate, Store

# the prompt's issue when a target's texts share no wording its name could show
SHARED_SUBJECT = "the subject the examples share"
ANY_SUBJECT = "a subject of your choice"  # zero-shot, for a region its words do not name
REWRITE_MODES = ("rewrite", "complement")  # one prompt per source row, which it rewrites
MODES = ("free", "rewrite", "complement")
# a round's default size: the README's measured repairs rewrite 30 rows; free generation's
# default is a look at what a backend writes
ROUND_SIZE = 30
FREE_SIZE = 5


@dataclass(frozen=True)
class AugmentRequest:
    """What to generate for a target. ``label`` None = the label of the target's mistakes;
    ``task`` None = ``nli`` for sentence pairs, else ``text``; ``example_ids`` replaces the
    drawn examples with these dataset rows (in ``rewrite`` and ``complement`` mode: the
    rows rewritten). In ``complement`` mode each prompt's label is its source row's own."""

    n: int = 5
    label: str | None = None
    task: str | None = None
    shots: int = 5
    mix_ratio: float = 1.0
    template: str | None = None
    example_ids: tuple[int, ...] | None = None
    sampling: Sampling = field(default_factory=Sampling)
    mode: str = "free"

    def validate(self) -> AugmentRequest:
        if self.mode not in MODES:
            raise SettingsError(f"unknown mode '{self.mode}'; choose one of {', '.join(MODES)}")
        if not 1 <= self.n <= 1000:
            raise SettingsError(f"n must be between 1 and 1000, got {self.n}")
        if not 0 <= self.shots <= 50:
            raise SettingsError(f"shots must be between 0 and 50, got {self.shots}")
        if self.task is not None and self.task not in TASK_TEMPLATES:
            raise SettingsError(f"unknown task '{self.task}'; choose one of "
                             f"{', '.join(TASK_TEMPLATES)}")
        self.sampling.validate()
        return self


@dataclass(frozen=True)
class TargetContext:
    """A target of an explored run and the rows prompts draw on."""

    explored: ExploredRun = field(repr=False)
    target: Region

    @property
    def run_dir(self) -> Path:
        return self.explored.run_dir

    @property
    def label_names(self) -> list[str]:
        return self.explored.label_names

    @property
    def pair(self) -> bool:
        return self.explored.pair

    @property
    def points(self) -> pd.DataFrame:
        return self.explored.points

    @property
    def rows(self) -> pd.DataFrame:
        return self.points.iloc[self.target.rows]

    @property
    def name(self) -> str:
        return self.target.name

    @property
    def majority_label(self) -> str:
        return self.target.label

    def task(self, request: AugmentRequest) -> str:
        return request.task or ("nli" if self.pair else "text")

    @property
    def mistakes(self) -> int:
        """The target's misclassified rows with its label: the rows a rewrite starts from."""
        rows = self.rows
        return int(((rows["label"].astype(str) == self.majority_label)
                    & ~rows["correct"].to_numpy(bool)).sum())

    def default_mode(self) -> str:
        """``rewrite`` when the target has mistakes to rewrite, else ``free``."""
        return "rewrite" if self.mistakes else "free"

    def default_size(self, mode: str) -> int:
        """How many candidates a round asks for by default: in ``rewrite`` mode one per
        mistake up to ``ROUND_SIZE``, in ``complement`` mode ``ROUND_SIZE``, in ``free``
        mode ``FREE_SIZE``."""
        if mode == "rewrite":
            return min(ROUND_SIZE, self.mistakes) or ROUND_SIZE
        return ROUND_SIZE if mode == "complement" else FREE_SIZE


@dataclass(frozen=True)
class StoredCandidate:
    """A candidate as the store took it: its id there, and what was stored."""

    id: int
    candidate: Candidate

    def to_json(self) -> dict:
        """id, text, text_pair, label, backend, model, mode, source_id (the row a rewrite
        started from, else None), checks (``topex generate``'s lines)."""
        c = self.candidate
        lineage = c.sampling or {}
        return {"id": self.id, "text": c.text, "text_pair": c.text_pair, "label": c.label,
                "backend": c.backend, "model": c.model, "mode": lineage.get("mode"),
                "source_id": lineage.get("source_id"),
                "checks": c.checks.to_json() if c.checks else None}


@dataclass
class Outcome:
    """What ``generate_candidates`` did: the stored candidates, the raw completions, how
    many of them were dropped, and the error that stopped it (None: none)."""

    candidates: list[StoredCandidate]
    completions: int
    dropped: int
    error: str | None = None


def target_context(run_dir: Path, target: RegionRef | None) -> TargetContext:
    """The region ``target`` names (None: the default target, the strongest region) and
    the run's rows; RunError when the run is not explored or the region does not exist."""
    explored = ExploredRun.load(run_dir)
    if target is not None:
        return TargetContext(explored, explored.region(target))
    strongest = explored.default_target()
    if strongest is None:
        raise RunError(f"{run_dir} has no error region to target: the explorer found none "
                       "(name one with --target KIND:KEY, e.g. a confusion cell)")
    return TargetContext(explored, strongest)


def prepare_prompt(context: TargetContext, request: AugmentRequest,
                   examples: Sequence[Example] | None = None) -> Prompt:
    """The free-mode prompt (examples drawn unless given)."""
    request.validate()
    label = _checked_label(context, request)
    chosen = list(examples) if examples is not None else choose_examples(context, request)
    return build_prompt(task=context.task(request), label=label,
                        issue=_issue(context.target, examples=bool(chosen)),
                        examples=chosen, template=request.template,
                        mix_ratio=request.mix_ratio if chosen else None,
                        confused_with=context.target.confused_with,
                        forms=context.target.forms)


def prepare_prompts(context: TargetContext, request: AugmentRequest,
                    examples: Sequence[Example] | None = None) -> list[Prompt]:
    """What ``generate_candidates`` will send: in ``free`` mode the one prompt
    (``prepare_prompt``), in ``rewrite`` and ``complement`` mode one prompt per source row
    (``examples``, else ``rewrite_sources`` / ``complement_sources``)."""
    request.validate()
    if request.mode == "free":
        return [prepare_prompt(context, request, examples)]
    label = _checked_label(context, request)
    target = context.target
    issue = _issue(target, examples=True)  # the row it rewrites
    if request.mode == "complement":
        sources = (list(examples) if examples is not None
                   else complement_sources(context, request))
        labels = {int(row_id): str(own) for row_id, own
                  in zip(context.points["id"], context.points["label"], strict=True)}
        # each row keeps its own label; the model's pull is toward the target's label
        return [build_rewrite_prompt(task=context.task(request), label=labels[source.row_id],
                                     issue=issue, source=source, confused_with=label,
                                     forms=target.forms)
                for source in sources]
    sources = list(examples) if examples is not None else rewrite_sources(context, request)
    return [build_rewrite_prompt(task=context.task(request), label=label, issue=issue,
                                 source=source, confused_with=target.confused_with,
                                 forms=target.forms)
            for source in sources]


def stored_texts(store: Store, run_dir: Path) -> list[str]:
    """The texts (pairs joined) of every candidate stored for the run."""
    stored = store.candidates(store.register_run(run_dir))
    return [joined_text(text, pair_text)
            for text, pair_text in zip(stored["text"], stored["text_pair"], strict=True)]


def generate_candidates(context: TargetContext, request: AugmentRequest,
                        prompts: Sequence[Prompt], *,
                        backend: Backend, checker: CandidateChecker, store: Store,
                        on_delta: OnDelta | None = None,
                        cancel: threading.Event | None = None,
                        stored: list[str] | None = None) -> Outcome:
    """Generate ``request.n`` completions over ``prompts`` (as many of each), parse,
    check and store them. ``stored``: the texts of the run's candidates so far (the
    duplicate check's), read from the store when None; a caller generating in batches
    reads them once (``stored_texts``) and adds each batch's.

    Setting ``cancel`` stops a backend that reports progress (streaming, EDA) at its next
    piece of text; what had arrived is still parsed, checked and stored."""
    request.validate()
    if not prompts:
        raise SettingsError("no prompt to generate from")
    parsed, dropped, completions, error = generate_parsed(
        backend, prompts, -(-request.n // len(prompts)), request.sampling,
        on_delta=_cancellable(on_delta, cancel))
    pair = prompts[0].task in PAIR_TASKS
    run_id = store.register_run(context.run_dir)
    other_texts = stored_texts(store, context.run_dir) if stored is None else stored
    checks = checker.check([item.text for _, item in parsed],
                           [item.text_pair for _, item in parsed] if pair else None,
                           [prompts[completion.prompt_index].label for completion, _ in parsed],
                           others=other_texts,
                           examples=[e for prompt in prompts for e in prompt.examples],
                           sources=[_source(prompts[completion.prompt_index], completion,
                                            request.mode) for completion, _ in parsed])
    candidates = []
    for (completion, item), check in zip(parsed, checks, strict=True):
        prompt = prompts[completion.prompt_index]
        candidates.append(Candidate(
            text=item.text, text_pair=item.text_pair, label=prompt.label,
            backend=completion.backend, target=context.target.ref,
            model=completion.model, prompt=prompt.text,
            sampling={**completion.sampling, **_lineage(prompt, request.mode)},
            seed=completion.seed, checks=check, mix_ratio=prompt.mix_ratio))
    ids = store.add_candidates(run_id, candidates) if candidates else []
    stored = [StoredCandidate(candidate_id, candidate)
              for candidate_id, candidate in zip(ids, candidates, strict=True)]
    return Outcome(candidates=stored, completions=completions, dropped=dropped, error=error)


def generate_parsed(backend: Backend, prompts: Sequence[Prompt], n: int, sampling: Sampling,
                    *, on_delta: OnDelta | None = None
                    ) -> tuple[list[tuple[Generated, ParsedText]], int, int, str | None]:
    """Ask ``backend`` for ``n`` completions of each prompt and parse each into samples.

    Returns (parsed (completion, sample) pairs in order, completions with no usable text,
    completions received, the error). When the backend fails part-way, what arrived is
    still parsed and the error is returned rather than raised."""
    error = None
    try:
        completions = backend.generate(list(prompts), n, sampling, on_delta=on_delta)
    except GenerationError as failure:
        completions, error = failure.received, str(failure)
    per_completion = []
    for completion in completions:
        prompt = prompts[completion.prompt_index]
        per_completion.append((completion, parse_output(
            completion.raw, pair=prompt.task in PAIR_TASKS,
            typical_words=typical_words(prompt))))
    parsed = [(completion, item) for completion, items in per_completion for item in items]
    dropped = sum(1 for _, items in per_completion if not items)
    return parsed, dropped, len(completions), error


def _cancellable(on_delta: OnDelta | None, cancel: threading.Event | None) -> OnDelta | None:
    if cancel is None:
        return on_delta

    def relay(prompt_index: int, choice: int, text: str) -> None:
        if cancel.is_set():
            raise GenerationCancelled("generation was cancelled")
        if on_delta is not None:
            on_delta(prompt_index, choice, text)

    return relay


def _issue(target: Region, *, examples: bool) -> str:
    """What a prompt asks a new text to be about: the target's subject; for a region its
    words do not name, what the examples share (zero-shot: any subject)."""
    if target.subject != NO_SHARED_WORDING:
        return target.subject
    return SHARED_SUBJECT if examples else ANY_SUBJECT


def _checked_label(context: TargetContext, request: AugmentRequest) -> str:
    label = request.label or context.majority_label
    if label not in context.label_names:
        raise SettingsError(f"label '{label}' is not one of the run's labels: "
                            f"{', '.join(context.label_names)}")
    return label


def _source(prompt: Prompt, completion: Generated, mode: str) -> Example | None:
    """The dataset row a candidate rewrites: its prompt's source in the rewrite modes, the
    example a backend says it changed (EDA's ``source_id``) in free mode, else None."""
    if mode in REWRITE_MODES:
        return prompt.examples[0]
    changed = completion.sampling.get("source_id")
    return next((example for example in prompt.examples if example.row_id == changed), None)


def _lineage(prompt: Prompt, mode: str) -> dict:
    lineage = {"task": prompt.task, "template": prompt.template, "mode": mode,
               "example_ids": [e.row_id for e in prompt.examples],
               "example_sources": [e.source for e in prompt.examples]}
    if mode in REWRITE_MODES:
        lineage["source_id"] = prompt.examples[0].row_id
    return lineage
