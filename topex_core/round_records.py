"""The typed records of a training round: ``rounds/N/round.json`` (``RoundResult``) and the
before/after comparison it holds (``RoundMetrics``), as ``topex_core.rounddir`` reads and
writes them. Frozen dataclasses; importing this module imports no torch. Runs written by
earlier versions still open (fields they lack get the defaults given here).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from topex_core.errors import RunError
from topex_core.records import Json
from topex_core.round_outcomes import (
    RegionOutcome,
    RoundGroups,
    Verdict,
    interval_from_json,
    interval_to_json,
    optional_groups,
    optional_outcome,
)


@dataclass(frozen=True)
class PairedSummary:
    """Paired predictions on the same ``rows`` (``retraining.paired``): accuracies (shares;
    with several seeds, their mean), rows fixed (wrong → right) and broken (right → wrong),
    each row counted once, McNemar's exact p and its exact 95% interval of the net share of
    rows fixed (the accuracy difference with one seed; None when no row changed). Rounds
    written before the exact interval hold a bootstrap interval here."""

    rows: int
    accuracy_before: float
    accuracy_after: float
    fixed: int
    broken: int
    mcnemar_p: float
    diff_ci95: tuple[float, float] | None

    @property
    def change(self) -> float:
        return self.accuracy_after - self.accuracy_before

    @classmethod
    def from_json(cls, payload: Json) -> PairedSummary:
        return cls(rows=int(payload["rows"]), accuracy_before=payload["accuracy_before"],
                   accuracy_after=payload["accuracy_after"], fixed=int(payload["fixed"]),
                   broken=int(payload["broken"]), mcnemar_p=float(payload["mcnemar_p"]),
                   diff_ci95=interval_from_json(payload.get("diff_ci95")))

    def to_json(self) -> Json:
        return {**asdict(self), "diff_ci95": interval_to_json(self.diff_ci95)}


def _optional_summary(payload: Json | None) -> PairedSummary | None:
    return PairedSummary.from_json(payload) if payload else None


@dataclass(frozen=True)
class SeedComparison:
    """One seed of a round against the base model, against its plain control when trained
    (the same retraining without the samples: what retraining alone moves) and against its
    label-matched control (the samples replaced by as many training rows of their labels:
    what the samples' content did), each control as "before"."""

    seed: int
    pool: PairedSummary
    test: PairedSummary | None = None
    control_pool: PairedSummary | None = None
    control_test: PairedSummary | None = None
    matched_pool: PairedSummary | None = None
    matched_test: PairedSummary | None = None

    @classmethod
    def from_json(cls, payload: Json) -> SeedComparison:
        control = payload.get("against_control") or {}
        matched = payload.get("against_matched_control") or {}
        return cls(seed=int(payload["seed"]), pool=PairedSummary.from_json(payload["pool"]),
                   test=_optional_summary(payload.get("test")),
                   control_pool=_optional_summary(control.get("pool")),
                   control_test=_optional_summary(control.get("test")),
                   matched_pool=_optional_summary(matched.get("pool")),
                   matched_test=_optional_summary(matched.get("test")))

    def to_json(self) -> Json:
        payload: Json = {"seed": self.seed, "pool": self.pool.to_json()}
        if self.test is not None:
            payload["test"] = self.test.to_json()
        for name, pool, test in (("against_control", self.control_pool, self.control_test),
                                 ("against_matched_control", self.matched_pool,
                                  self.matched_test)):
            if pool is not None:
                payload[name] = {"pool": pool.to_json(),
                                 **({"test": test.to_json()} if test is not None else {})}
        return payload

    def against(self, control: str | None, split: str) -> PairedSummary | None:
        """This seed against ``control`` ("matched", "plain"; None: the base model) on
        ``split`` ("pool" or "test")."""
        prefix = {None: "", "plain": "control_", "matched": "matched_"}[control]
        return getattr(self, prefix + split)


@dataclass(frozen=True)
class SeedSpread:
    """The accuracy after a round over its seeds (shares): mean, standard deviation (ddof
    1; None with one seed), range."""

    mean: float
    std: float | None
    min: float
    max: float


@dataclass(frozen=True)
class RoundMetrics:
    """Before/after of a round (``retraining.compare``).

    Where the run has a test split: ``groups``, the target, complement and rest and every
    class against the label-matched control (the plain control when no matched one was
    trained), ``plain_groups`` the same against the plain control when both were trained
    (what retraining alone moves), and the ``verdict``. ``targets`` are the regions the
    samples were made for (each one's rows with the label its mistakes have), ``overall``
    the whole test split and ``worst_other`` the other error region the round hurt most —
    descriptive: it is picked as the worst of many, so its p is not a test — all against
    the same control as ``groups``, over every seed.

    Per seed (``seeds``, the first leads the tables): the pool and the test split against
    the base model and each control. ``per_cluster`` (error clusters, the picked one first;
    chosen by the base model's mistakes) and ``per_class`` (the pool against the base
    model) are rows of rows, accuracy_before, accuracy_after, change, fixed, broken;
    ``across_seeds`` gives per split the mean, std, min and max of the accuracy after;
    ``per_slice`` has per error slice its error rate before/after on the pool and on its
    test rows (first seed)."""

    picked_cluster: int | None
    seeds: list[SeedComparison]
    per_cluster: list[Json]
    per_class: list[Json]
    across_seeds: dict[str, SeedSpread]
    per_slice: list[Json] = field(default_factory=list)
    targets: list[RegionOutcome] = field(default_factory=list)
    overall: RegionOutcome | None = None
    worst_other: RegionOutcome | None = None
    groups: RoundGroups | None = None
    plain_groups: RoundGroups | None = None
    verdict: Verdict | None = None

    @property
    def first(self) -> SeedComparison:
        return self.seeds[0]

    @property
    def control(self) -> str | None:
        """The control ``groups``, ``targets`` and ``overall`` are against ("matched" or
        "plain"; None when none was trained or the run has no test split)."""
        return self.groups.control if self.groups is not None else None

    @classmethod
    def from_json(cls, payload: Json) -> RoundMetrics:
        verdict = payload.get("verdict")
        return cls(picked_cluster=payload.get("picked_cluster"),
                   seeds=[SeedComparison.from_json(seed) for seed in payload["seeds"]],
                   per_cluster=list(payload.get("per_cluster", [])),
                   per_class=list(payload.get("per_class", [])),
                   across_seeds={split: SeedSpread(**spread) for split, spread
                                 in payload.get("across_seeds", {}).items()},
                   per_slice=list(payload.get("per_slice", [])),
                   targets=[RegionOutcome.from_json(t) for t in payload.get("targets", [])],
                   overall=optional_outcome(payload.get("overall")),
                   worst_other=optional_outcome(payload.get("worst_other")),
                   groups=optional_groups(payload.get("groups")),
                   plain_groups=optional_groups(payload.get("plain_groups")),
                   verdict=Verdict(**verdict) if verdict else None)

    def to_json(self) -> Json:
        """The layout earlier versions wrote, headline fields of the first seed included,
        and the groups and verdict."""
        first = self.first
        test = first.test
        payload = first.to_json()
        return {"picked_cluster": self.picked_cluster,
                "accuracy_before": {"pool": first.pool.accuracy_before,
                                    "test": test.accuracy_before if test else None},
                "accuracy_after": {"pool": first.pool.accuracy_after,
                                   "test": test.accuracy_after if test else None},
                "fixed": first.pool.fixed, "broken": first.pool.broken,
                "mcnemar_p": first.pool.mcnemar_p,
                "diff_ci95": interval_to_json(first.pool.diff_ci95),
                "test": test.to_json() if test else None,
                "per_cluster": self.per_cluster, "per_class": self.per_class,
                "per_slice": self.per_slice, "seeds": [seed.to_json() for seed in self.seeds],
                "across_seeds": {split: asdict(spread)
                                 for split, spread in self.across_seeds.items()},
                "against_control": payload.get("against_control"),
                "against_matched_control": payload.get("against_matched_control"),
                "targets": [target.to_json() for target in self.targets],
                "overall": self.overall.to_json() if self.overall else None,
                "worst_other": self.worst_other.to_json() if self.worst_other else None,
                "groups": self.groups.to_json() if self.groups else None,
                "plain_groups": self.plain_groups.to_json() if self.plain_groups else None,
                "verdict": asdict(self.verdict) if self.verdict else None}


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
