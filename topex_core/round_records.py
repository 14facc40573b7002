"""The typed records of a training round: ``rounds/N/round.json`` (``RoundResult``) and the
before/after comparison it holds (``RoundMetrics``), as ``topex_core.rounddir`` reads and
writes them. Frozen dataclasses; importing this module imports no torch. Runs written by
earlier versions still open (fields they lack get the defaults given here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from topex_core.errors import RunError
from topex_core.records import Json


@dataclass(frozen=True)
class PairedSummary:
    """Paired predictions on the same ``rows``: accuracies (shares), rows fixed (wrong →
    right) and broken (right → wrong), McNemar's exact p and the bootstrap 95% interval of
    the accuracy difference (after − before, a share)."""

    rows: int
    accuracy_before: float
    accuracy_after: float
    fixed: int
    broken: int
    mcnemar_p: float
    diff_ci95: tuple[float, float]

    @property
    def change(self) -> float:
        return self.accuracy_after - self.accuracy_before

    @classmethod
    def from_json(cls, payload: Json) -> PairedSummary:
        low, high = payload["diff_ci95"]
        return cls(rows=int(payload["rows"]), accuracy_before=payload["accuracy_before"],
                   accuracy_after=payload["accuracy_after"], fixed=int(payload["fixed"]),
                   broken=int(payload["broken"]), mcnemar_p=float(payload["mcnemar_p"]),
                   diff_ci95=(low, high))

    def to_json(self) -> Json:
        return {**asdict(self), "diff_ci95": list(self.diff_ci95)}


def _optional_summary(payload: Json | None) -> PairedSummary | None:
    return PairedSummary.from_json(payload) if payload else None


@dataclass(frozen=True)
class SeedComparison:
    """One seed of a round against the base model, and against its control when trained
    (the control as "before": what the samples changed beyond retraining itself)."""

    seed: int
    pool: PairedSummary
    test: PairedSummary | None = None
    control_pool: PairedSummary | None = None
    control_test: PairedSummary | None = None

    @classmethod
    def from_json(cls, payload: Json) -> SeedComparison:
        control = payload.get("against_control") or {}
        return cls(seed=int(payload["seed"]), pool=PairedSummary.from_json(payload["pool"]),
                   test=_optional_summary(payload.get("test")),
                   control_pool=_optional_summary(control.get("pool")),
                   control_test=_optional_summary(control.get("test")))

    def to_json(self) -> Json:
        payload: Json = {"seed": self.seed, "pool": self.pool.to_json()}
        if self.test is not None:
            payload["test"] = self.test.to_json()
        if self.control_pool is not None:
            payload["against_control"] = {"pool": self.control_pool.to_json()}
            if self.control_test is not None:
                payload["against_control"]["test"] = self.control_test.to_json()
        return payload


@dataclass(frozen=True)
class SeedSpread:
    """The accuracy after a round over its seeds (shares): mean, standard deviation, range."""

    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class RegionOutcome:
    """What a round did to one region's test rows (``kind`` "cluster" or "slice", or
    "overall" for the whole test split): accuracy of the base model (before), of the model
    retrained with the samples (after) and of the control retrained without them, as
    shares; ``vs_control`` = after − control on the same rows, its bootstrap 95% interval
    and McNemar's exact p (None without a control). Accuracies are None for a region
    without test rows. First seed."""

    kind: str
    key: str
    name: str
    test_rows: int
    accuracy_before: float | None
    accuracy_after: float | None
    accuracy_control: float | None = None
    vs_control: float | None = None
    vs_control_ci95: tuple[float, float] | None = None
    mcnemar_p: float | None = None

    @property
    def change(self) -> float | None:
        """after − before (None without test rows)."""
        if self.accuracy_after is None or self.accuracy_before is None:
            return None
        return self.accuracy_after - self.accuracy_before

    @classmethod
    def from_json(cls, payload: Json) -> RegionOutcome:
        interval = payload.get("vs_control_ci95")
        return cls(**{**payload, "vs_control_ci95": tuple(interval) if interval else None})

    def to_json(self) -> Json:
        payload = asdict(self)
        payload["vs_control_ci95"] = (list(self.vs_control_ci95)
                                      if self.vs_control_ci95 is not None else None)
        return payload


def outcome_sentence(outcome: RegionOutcome) -> str:
    """What a round did to a region, in one sentence a page can show beside it."""
    if not outcome.test_rows:
        return "no test row falls into it, so the test split cannot tell what it did"
    rows = f"{outcome.test_rows:,} test row{'s' if outcome.test_rows != 1 else ''}"
    moved = f"test accuracy {outcome.accuracy_before:.0%} → {outcome.accuracy_after:.0%}"
    if outcome.vs_control is None:
        return f"{moved} on {rows} (no control was trained)"
    low, high = outcome.vs_control_ci95 or (float("nan"), float("nan"))
    return (f"{moved} on {rows}, control {outcome.accuracy_control:.0%}: "
            f"{100 * outcome.vs_control:+.1f} points beyond the control (interval "
            f"{100 * low:+.1f} to {100 * high:+.1f}, McNemar p = {outcome.mcnemar_p:.2g})")


def _optional_outcome(payload: Json | None) -> RegionOutcome | None:
    return RegionOutcome.from_json(payload) if payload else None


@dataclass(frozen=True)
class RoundMetrics:
    """Before/after of a round (``retraining.compare``). The headline is the first seed;
    ``targets`` are the regions its samples were made for, ``overall`` the whole test
    split and ``worst_other`` the other error region the round hurt most
    (``RegionOutcome``, test rows, first seed; where the run has a test split);
    ``per_cluster`` (error clusters, the picked one first) and ``per_class`` are rows of
    rows, accuracy_before, accuracy_after, change, fixed, broken; ``across_seeds`` gives
    per split the mean, std, min and max of the accuracy after; ``per_slice`` has per
    error slice its error rate before/after on the pool and on its test rows."""

    picked_cluster: int | None
    seeds: list[SeedComparison]
    per_cluster: list[Json]
    per_class: list[Json]
    across_seeds: dict[str, SeedSpread]
    per_slice: list[Json] = field(default_factory=list)
    targets: list[RegionOutcome] = field(default_factory=list)
    overall: RegionOutcome | None = None
    worst_other: RegionOutcome | None = None

    @property
    def first(self) -> SeedComparison:
        return self.seeds[0]

    @classmethod
    def from_json(cls, payload: Json) -> RoundMetrics:
        return cls(picked_cluster=payload.get("picked_cluster"),
                   seeds=[SeedComparison.from_json(seed) for seed in payload["seeds"]],
                   per_cluster=list(payload.get("per_cluster", [])),
                   per_class=list(payload.get("per_class", [])),
                   across_seeds={split: SeedSpread(**spread) for split, spread
                                 in payload.get("across_seeds", {}).items()},
                   per_slice=list(payload.get("per_slice", [])),
                   targets=[RegionOutcome.from_json(t) for t in payload.get("targets", [])],
                   overall=_optional_outcome(payload.get("overall")),
                   worst_other=_optional_outcome(payload.get("worst_other")))

    def to_json(self) -> Json:
        """The layout earlier versions wrote, headline fields of the first seed included."""
        first = self.first
        test = first.test
        against = first.to_json().get("against_control")
        return {"picked_cluster": self.picked_cluster,
                "accuracy_before": {"pool": first.pool.accuracy_before,
                                    "test": test.accuracy_before if test else None},
                "accuracy_after": {"pool": first.pool.accuracy_after,
                                   "test": test.accuracy_after if test else None},
                "fixed": first.pool.fixed, "broken": first.pool.broken,
                "mcnemar_p": first.pool.mcnemar_p, "diff_ci95": list(first.pool.diff_ci95),
                "test": test.to_json() if test else None,
                "per_cluster": self.per_cluster, "per_class": self.per_class,
                "per_slice": self.per_slice, "seeds": [seed.to_json() for seed in self.seeds],
                "across_seeds": {split: asdict(spread)
                                 for split, spread in self.across_seeds.items()},
                "against_control": against,
                "targets": [target.to_json() for target in self.targets],
                "overall": self.overall.to_json() if self.overall else None,
                "worst_other": self.worst_other.to_json() if self.worst_other else None}


@dataclass(frozen=True)
class RoundResult:
    """``rounds/N/round.json``: a training round with the accepted samples.

    ``store_round`` is the round's id in the store (None until it is recorded there).
    """

    round_dir: str
    mode: str
    seeds: list[int]
    config: Json
    base_config: Json
    candidate_ids: list[int]
    samples: int
    model_paths: list[str]
    timings_s: dict[str, float]
    metrics: RoundMetrics
    created_at: float
    store_round: int | None = None

    @property
    def name(self) -> str:
        """The round's folder name (its number)."""
        return self.round_dir.rstrip("/").rsplit("/", 1)[-1]

    @classmethod
    def from_json(cls, payload: Json) -> RoundResult:
        try:
            return cls(round_dir=payload["round_dir"], mode=payload["mode"],
                       seeds=[int(seed) for seed in payload["seeds"]],
                       config=payload.get("config", {}),
                       base_config=payload.get("base_config", {}),
                       candidate_ids=[int(i) for i in payload["candidate_ids"]],
                       samples=int(payload["samples"]),
                       model_paths=list(payload.get("model_paths", [])),
                       timings_s=dict(payload.get("timings_s", {})),
                       metrics=RoundMetrics.from_json(payload["metrics"]),
                       created_at=float(payload.get("created_at", 0.0)),
                       store_round=payload.get("round"))
        except (KeyError, TypeError, ValueError) as error:
            raise RunError(f"{payload.get('round_dir', 'a round')}: incomplete round record "
                           f"({error})") from None

    def to_json(self) -> Json:
        payload = asdict(self)
        payload["metrics"] = self.metrics.to_json()
        payload["round"] = payload.pop("store_round")
        return payload
