"""A sentence per error region, written by the configured generator and kept only when the
rows it describes fail more than the rest (after DISCERN: a description of an error
cluster is worth showing when it tells the cluster's rows from the others).

For each of the strongest regions (``ExploredRun.by_evidence``) the generator reads up to
``EXAMPLE_ROWS`` of the region's misclassified texts and its terms, and writes one
sentence on what the texts are about. The check: embed the sentence and the
pool's rows (the packaged MiniLM; a seeded sample of ``RETRIEVAL_POOL`` rows on a larger
pool) less the rows the prompt showed (a sentence written from them would find them
again), retrieve the rows nearest the sentence — as many as the region would hold in that
sample, at least ``MIN_RETRIEVED`` (on ten rows a sentence about anything found a few
mistakes by chance) — and compare their error rate with the sample's. The sentence is kept
when it is at least ``KEEP_LIFT`` times the base rate, the excess is not chance (the
hypergeometric tail of the retrieved mistakes, p ≤ ``KEEP_P``), and the retrieved rows
hold at least ``KEEP_FOUND`` of the region's rows they could hold (a sentence about
something else found failing rows elsewhere: "a fictional character, Sarah" retrieved rows
26% misclassified, 2 of them in the "space" slice); otherwise the region keeps its name
of terms, and the page says why. A sentence written by the packaged 135M model is
labelled so.

Written to ``descriptions.json`` beside the exploration; exploring again removes it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from topex_core.augmenter.backends import local_backend
from topex_core.augmenter.generation.base import Backend, GenerationError, Sampling
from topex_core.augmenter.generation.packaged import PACKAGED_NAME
from topex_core.augmenter.generation.registry import backend_spec
from topex_core.augmenter.prompts import Prompt, neutralise
from topex_core.data.texts import point_texts
from topex_core.errors import SettingsError
from topex_core.exploredir import read_descriptions, write_descriptions
from topex_core.explorer.explored import ExploredRun, Region, RowEmbeddings, fisher_p
from topex_core.training.embeddings import Embed

EXAMPLE_ROWS = 4
EXAMPLE_CHARS = 150
RETRIEVAL_POOL = 3_000
MIN_RETRIEVED = 50
KEEP_LIFT = 1.5
KEEP_P = 0.01
KEEP_FOUND = 0.1
TOP_REGIONS = 5
SAMPLING = Sampling(temperature=0.3, top_p=0.9, max_tokens=50, seed=0)
# short, the texts first and the task last: the packaged 135M model echoes the texts back
# when the request comes first or asks for more (the confusion, a form to follow)
REQUEST = ("Here are some texts:\n{examples}\n\nThese texts share the words {terms}. Write "
           "one sentence that describes what these texts are about.")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s|\n")


@dataclass(frozen=True)
class SentenceCheck:
    """How a sentence fares against the rows: the ``retrieved`` rows nearest it are
    ``retrieved_error_rate`` misclassified against ``base_rate`` of the rows searched,
    ``lift`` times, with ``p`` the chance of that many mistakes among them; ``in_region``:
    share of the retrieved rows inside the region, ``found`` that count over the most that
    could be (the region's searched rows, at most ``retrieved``); ``kept``: lift ≥
    KEEP_LIFT at p ≤ KEEP_P, and found ≥ KEEP_FOUND."""

    retrieved: int
    retrieved_error_rate: float
    base_rate: float
    lift: float
    p: float
    in_region: float
    found: float
    kept: bool

    def __str__(self) -> str:
        verdict = ("kept" if self.kept else f"not kept (needs {KEEP_LIFT}× at p ≤ {KEEP_P} "
                   f"and {KEEP_FOUND:.0%} of the region's rows found)")
        return (f"The {self.retrieved} rows nearest this sentence are "
                f"{self.retrieved_error_rate:.0%} misclassified against {self.base_rate:.0%} "
                f"of the rows searched ({self.lift:.1f}×, p = {self.p:.1e}); "
                f"{self.in_region:.0%} of them are in the region, {self.found:.0%} of what "
                f"they could hold: {verdict}.")


@dataclass(frozen=True)
class Description:
    """One region's sentence, who wrote it (``packaged``: the packaged SmolLM2) and how it
    fared against the rows."""

    kind: str
    key: str
    sentence: str
    backend: str
    model: str
    packaged: bool
    check: SentenceCheck

    @property
    def kept(self) -> bool:
        return self.check.kept

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, payload: dict) -> Description:
        return cls(**{**payload, "check": SentenceCheck(**payload["check"])})


class SentenceChecker:
    """Checks sentences against one explored run's rows, embedded once (see the module)."""

    def __init__(self, explored: ExploredRun, embed: Embed) -> None:
        self.texts = texts = point_texts(explored.points)
        self.embed = embed
        self.wrong = ~explored.points["correct"].to_numpy(bool)
        self.searched = _searched_rows(len(texts))
        self.vectors = _unit(RowEmbeddings(explored.run_dir, texts, embed)(self.searched))

    def __call__(self, region: Region, sentence: str,
                 shown: np.ndarray | None = None) -> SentenceCheck:
        """How ``sentence`` fares against the rows, those the prompt ``shown`` (pool
        positions) left out of the search."""
        query = _unit(np.asarray(self.embed([sentence]), dtype=np.float64))[0]
        kept = ~np.isin(self.searched, shown if shown is not None else [])
        searched, vectors, wrong = self.searched[kept], self.vectors[kept], self.wrong
        share = len(region.rows) / len(wrong)
        count = int(min(len(searched), max(MIN_RETRIEVED, round(share * len(searched)))))
        nearest = searched[np.argsort(-(vectors @ query), kind="stable")[:count]]
        base_rate = float(wrong[searched].mean())
        error_rate = float(wrong[nearest].mean())
        lift = error_rate / base_rate if base_rate else 0.0
        p = fisher_p(int(wrong[nearest].sum()), count, int(wrong[searched].sum()),
                     len(searched))
        inside = int(np.isin(nearest, region.rows).sum())
        possible = min(count, int(np.isin(searched, region.rows).sum()))
        found = inside / possible if possible else 0.0
        return SentenceCheck(
            retrieved=count, retrieved_error_rate=round(error_rate, 4),
            base_rate=round(base_rate, 4), lift=round(lift, 3), p=p,
            in_region=round(inside / count, 4), found=round(found, 4),
            kept=lift >= KEEP_LIFT and p <= KEEP_P and found >= KEEP_FOUND)


def describe_regions(explored: ExploredRun, backend: Backend, *, embed: Embed,
                     top: int = TOP_REGIONS,
                     progress: Callable[[float, str], None] | None = None
                     ) -> list[Description]:
    """Describe and check the ``top`` strongest regions of ``explored``; written to
    descriptions.json (replacing what was there) and returned, strongest first."""
    if backend_spec(backend.name).source == "vocabulary":
        raise SettingsError("EDA rewrites texts and cannot write a description; choose a "
                            "language model (transformers, openai or vllm)")
    if top < 1:
        raise SettingsError(f"describe at least one region, got top={top}")
    regions = explored.by_evidence()[:top]
    report = progress or (lambda fraction, message: None)
    report(0.05, "embedding the rows to check the sentences against")
    check = SentenceChecker(explored, embed)
    descriptions = []
    for index, region in enumerate(regions):
        report(0.1 + 0.9 * index / len(regions), f"describing {region.name}")
        shown = _shown_rows(region, check.wrong)
        sentence = _sentence(backend, _prompt(region, shown, check.texts))
        if sentence is not None:
            descriptions.append(Description(
                kind=region.kind, key=region.key, sentence=sentence, backend=backend.name,
                model=backend.model, packaged=_is_packaged(backend),
                check=check(region, sentence, shown)))
    write_descriptions(explored.run_dir, [d.to_json() for d in descriptions])
    report(1.0, f"described {len(descriptions)} of {len(regions)} regions")
    return descriptions


def describe_backend(name: str, *, model: str | None = None, base_url: str | None = None,
                     api_key: str | None = None, timeout_s: float = 120.0) -> Backend:
    """The generator that writes descriptions: a server or a model in this process (the
    packaged SmolLM2 when ``name`` is transformers without a model); EDA writes none."""
    spec = backend_spec(name)
    if spec.source == "vocabulary":
        raise SettingsError("EDA rewrites texts and cannot write a description; choose a "
                            "language model (transformers, openai or vllm)")
    if spec.source == "server":
        return spec.build(base_url=base_url, model=model, api_key=api_key,
                          timeout_s=timeout_s, concurrency=1, stream=False)
    return local_backend(name, model)


def read_region_descriptions(run_dir: Path) -> dict[tuple[str, str], Description]:
    """{(kind, key): description} of the run's last ``describe_regions`` (empty: none)."""
    return {(d["kind"], d["key"]): Description.from_json(d) for d in read_descriptions(run_dir)}


def _shown_rows(region: Region, wrong: np.ndarray) -> np.ndarray:
    """The pool positions of the misclassified rows a region's prompt shows."""
    return region.rows[wrong[region.rows]][:EXAMPLE_ROWS]


def _prompt(region: Region, shown: np.ndarray, texts: Sequence[str]) -> Prompt:
    examples = "\n".join(f"- {neutralise(texts[position], limit=EXAMPLE_CHARS)}"
                         for position in shown)
    request = REQUEST.format(examples=examples,
                             terms=", ".join(region.terms[:5]) or "(none)")
    return Prompt(text=f"User: {request}", messages=({"role": "user", "content": request},),
                  task="describe", label=region.label, issue=region.topic, examples=(),
                  mix_ratio=None, template="describe")


def _sentence(backend: Backend, prompt: Prompt) -> str | None:
    """The first sentence of the generator's answer (None: no usable sentence)."""
    try:
        completion = backend.generate([prompt], 1, SAMPLING)[0].raw
    except (GenerationError, IndexError):
        return None
    text = completion.strip().strip("\"'“” ")
    sentence = _SENTENCE_END.split(text, maxsplit=1)[0].strip().strip("\"'“” ")
    words = sentence.split()
    return sentence if 4 <= len(words) <= 50 else None


def _searched_rows(pool_rows: int) -> np.ndarray:
    """The pool rows a sentence is checked against: all, or a seeded sample."""
    if pool_rows <= RETRIEVAL_POOL:
        return np.arange(pool_rows)
    return np.sort(np.random.default_rng(0).choice(pool_rows, RETRIEVAL_POOL, replace=False))


def _unit(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float64)
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def _is_packaged(backend: Backend) -> bool:
    return backend.name == "transformers" and PACKAGED_NAME in backend.model
