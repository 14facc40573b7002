"""The typed records that stages hand each other and that ``topex_core.rundir`` reads and
writes as JSON. Frozen dataclasses; importing this module imports no torch.

Each record has ``from_json(payload)`` and ``to_json()``; the JSON layout is the one run
directories have always had, so runs written by earlier versions still open (fields they
lack get the defaults given here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from topex_core.train_config import RunConfig

Json = dict[str, Any]


@dataclass(frozen=True)
class DatasetRecord:
    """Where a split came from: ``rows`` rows, columns as given, content SHA-256 (hex)."""

    source: str
    rows: int
    text_col: str
    label_col: str
    content_hash: str
    text_pair_col: str | None = None

    @classmethod
    def from_json(cls, payload: Json) -> DatasetRecord:
        return cls(source=str(payload["source"]), rows=int(payload["rows"]),
                   text_col=str(payload["text_col"]), label_col=str(payload["label_col"]),
                   content_hash=str(payload["content_hash"]),
                   text_pair_col=payload.get("text_pair_col"))


@dataclass(frozen=True)
class HeldOut:
    """How a test split was held out of the given data: ``share`` of its rows (stratified,
    ``seed``), and the content SHA-256 of all ``source_rows`` given rows, which identifies
    the dataset a run was trained on."""

    share: float
    seed: int
    source_rows: int
    source_hash: str

    @classmethod
    def from_json(cls, payload: Json) -> HeldOut:
        return cls(share=float(payload["share"]), seed=int(payload["seed"]),
                   source_rows=int(payload["source_rows"]),
                   source_hash=str(payload["source_hash"]))


@dataclass(frozen=True)
class RunRecord:
    """``run.json``: a fine-tuned classifier and its logits for a dataset.

    ``run_id`` identifies the run wherever its folder is moved (the store keys it);
    ``config`` is how its classifier was made (``RunConfig``); accuracies are shares in
    [0, 1]; timings in seconds.
    ``held_out`` is set when the test split was held out of the given data;
    ``data_warnings`` are what loading the data found doubtful (``data.checks``).
    """

    run_id: str
    label_names: list[str]
    dataset: DatasetRecord
    config: RunConfig = field(default_factory=RunConfig)
    test_dataset: DatasetRecord | None = None
    train_ids: list[int] | None = None
    logits_precision: str = "float32"
    pool_accuracy: float | None = None
    test_accuracy: float | None = None
    versions: dict[str, str] = field(default_factory=dict)
    device: str = ""
    timings_s: dict[str, float] = field(default_factory=dict)
    topex_version: str = ""
    held_out: HeldOut | None = None
    data_warnings: list[str] = field(default_factory=list)

    @property
    def seed(self) -> int:
        return self.config.seed

    @property
    def input_hash(self) -> str:
        """Content hash of the data the user gave (before any test split was held out)."""
        return self.held_out.source_hash if self.held_out else self.dataset.content_hash

    @classmethod
    def from_json(cls, payload: Json) -> RunRecord:
        test, held_out = payload.get("test_dataset"), payload.get("held_out")
        return cls(run_id=str(payload.get("run_id", "")),
                   label_names=[str(name) for name in payload["label_names"]],
                   dataset=DatasetRecord.from_json(payload["dataset"]),
                   config=RunConfig.from_json(dict(payload.get("config", {}))),
                   test_dataset=DatasetRecord.from_json(test) if test else None,
                   train_ids=payload.get("train_ids"),
                   logits_precision=payload.get("logits_precision", "float32"),
                   pool_accuracy=payload.get("pool_accuracy"),
                   test_accuracy=payload.get("test_accuracy"),
                   versions=dict(payload.get("versions", {})),
                   device=str(payload.get("device", "")),
                   timings_s=dict(payload.get("timings_s", {})),
                   topex_version=str(payload.get("topex_version", "")),
                   held_out=HeldOut.from_json(held_out) if held_out else None,
                   data_warnings=[str(w) for w in payload.get("data_warnings", [])])

    def to_json(self) -> Json:
        return asdict(self)


@dataclass(frozen=True)
class ExploreResult:
    """``explore.json``: what the explorer found and how long each stage took (seconds).

    ``normaliser_minimums``/``_maximums`` are the per-dimension bounds (C,) that map later
    logits into the same [-1, 1] space. ``space`` is what was clustered and mapped
    (``explorer.space``). ``mistakes``: misclassified pool rows, of which ``in_error_clusters``
    lie in an error cluster, ``in_slices`` in an error slice, ``covered`` in either (runs
    explored before slices existed read 0 for all four). ``picked_cluster`` ranks first
    among the error clusters by the weighted score (``reason`` says why); ``target_*`` is
    the strongest region of all by evidence, the default target (``target_reason``).
    """

    config: Json
    method: str
    clusters: int
    error_clusters: int
    noise_points: int
    picked_cluster: int | None
    picked_name: str | None
    reason: str
    normaliser_minimums: list[float]
    normaliser_maximums: list[float]
    timings_s: dict[str, float] = field(default_factory=dict)
    space: str = "logits"
    slices: int = 0
    mistakes: int = 0
    in_error_clusters: int = 0
    in_slices: int = 0
    covered: int = 0
    target_kind: str | None = None
    target_key: str | None = None
    target_name: str | None = None
    target_reason: str = ""

    @property
    def target(self) -> tuple[str, str] | None:
        """(kind, key) of the default target, the strongest region by evidence
        (``explorer.evidence``); None without a region, or for a run explored before."""
        if self.target_kind is None or self.target_key is None:
            return None
        return self.target_kind, self.target_key

    @property
    def coverage(self) -> float | None:
        """Share of the model's mistakes inside an error cluster or slice (None: none)."""
        return self.covered / self.mistakes if self.mistakes else None

    @classmethod
    def from_json(cls, payload: Json) -> ExploreResult:
        bounds = payload["normaliser"]
        picked = payload.get("picked_cluster")
        return cls(config=payload.get("config", {}), method=payload["method"],
                   clusters=int(payload["clusters"]),
                   error_clusters=int(payload["error_clusters"]),
                   noise_points=int(payload["noise_points"]),
                   picked_cluster=None if picked is None else int(picked),
                   picked_name=payload.get("picked_name"), reason=payload.get("reason", ""),
                   normaliser_minimums=list(bounds["minimums"]),
                   normaliser_maximums=list(bounds["maximums"]),
                   timings_s=dict(payload.get("timings_s", {})),
                   space=payload.get("space", "logits"), slices=int(payload.get("slices", 0)),
                   **{key: payload.get(key) for key in ("target_kind", "target_key",
                                                        "target_name")},
                   target_reason=payload.get("target_reason", ""),
                   **{key: int(payload.get("coverage", {}).get(key, 0))
                      for key in ("mistakes", "in_error_clusters", "in_slices", "covered")})

    def to_json(self) -> Json:
        payload = asdict(self)
        payload["coverage"] = {key: payload.pop(key) for key in
                               ("mistakes", "in_error_clusters", "in_slices", "covered")}
        payload["normaliser"] = {"minimums": payload.pop("normaliser_minimums"),
                                 "maximums": payload.pop("normaliser_maximums")}
        return payload


CHECK_NAMES = ("duplicate", "length", "prediction", "intrusion", "topic", "term", "output")


@dataclass(frozen=True)
class CheckResult:
    """One automatic check of one candidate: ``name`` (one of ``CHECK_NAMES``), what it
    measured (``details``; None where it did not run, as the prediction check on a run
    without a model) and the warnings it raised (short sentences; none: it passed)."""

    name: str
    details: Json | None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class CandidateChecks:
    """Every check of one candidate (``augmenter.checks``), as the store keeps them."""

    results: tuple[CheckResult, ...] = ()

    @property
    def warnings(self) -> list[str]:
        return [warning for result in self.results for warning in result.warnings]

    @property
    def fired(self) -> list[str]:
        """The check behind each warning, in the same order."""
        return [result.name for result in self.results for _ in result.warnings]

    @property
    def passed(self) -> bool:
        return not self.warnings

    def to_json(self) -> Json:
        """{check: details, …, "warnings": [...], "fired": [...]}, the layout the store has
        always kept."""
        return {**{result.name: result.details for result in self.results},
                "warnings": self.warnings, "fired": self.fired}

    @classmethod
    def from_json(cls, payload: Json | None) -> CandidateChecks:
        """The checks a store kept; warnings stored without the checks behind them (early
        versions) are kept under "checks"."""
        payload = payload or {}
        warnings = list(payload.get("warnings", []))
        fired = list(payload.get("fired", ["checks"] * len(warnings)))
        names = [*(name for name in CHECK_NAMES if name in payload),
                 *(name for name in dict.fromkeys(fired) if name not in payload)]
        return cls(tuple(CheckResult(name, payload.get(name), tuple(
            warning for warning, source in zip(warnings, fired, strict=True) if source == name))
            for name in names))
