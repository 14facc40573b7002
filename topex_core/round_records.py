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
class RegionChange:
    """What a round did to one region of the explored run (``kind``, ``key``, ``name``;
    ``targeted``: samples were made for it): ``pool``, its pool rows against the base model
    (first seed; they include rows the model was trained on, and a region was picked for
    the base model's mistakes, so "before" is low by construction); ``test``, its test rows
    against the round's control over every seed (None without a test split or without test
    rows in the region)."""

    kind: str
    key: str
    name: str
    targeted: bool
    pool: PairedSummary
    test: RegionOutcome | None = None

    @classmethod
    def from_json(cls, payload: Json) -> RegionChange:
        return cls(kind=payload["kind"], key=str(payload["key"]), name=payload["name"],
                   targeted=bool(payload["targeted"]),
                   pool=PairedSummary.from_json(payload["pool"]),
                   test=optional_outcome(payload.get("test")))

    def to_json(self) -> Json:
        return {"kind": self.kind, "key": self.key, "name": self.name,
                "targeted": self.targeted, "pool": self.pool.to_json(),
                "test": self.test.to_json() if self.test else None}


@dataclass(frozen=True)
class ClassChange:
    """What a round did to the pool rows of one true ``label``, against the base model
    (first seed; training rows included)."""

    label: str
    pool: PairedSummary

    @classmethod
    def from_json(cls, payload: Json) -> ClassChange:
        if "pool" not in payload:  # rounds written before: a row of the per-class table
            return cls(str(payload["label"]), _legacy_summary(payload))
        return cls(str(payload["label"]), PairedSummary.from_json(payload["pool"]))

    def to_json(self) -> Json:
        return {"label": self.label, "pool": self.pool.to_json()}


def _legacy_summary(row: Json, prefix: str = "") -> PairedSummary:
    """A row of the per-cluster or per-class tables earlier rounds kept (no p there)."""
    return PairedSummary(rows=int(row[f"{prefix}rows"]),
                         accuracy_before=row[f"{prefix}accuracy_before"],
                         accuracy_after=row[f"{prefix}accuracy_after"],
                         fixed=int(row.get("fixed", 0)), broken=int(row.get("broken", 0)),
                         mcnemar_p=float("nan"), diff_ci95=None)


def _legacy_regions(payload: Json) -> list[RegionChange]:
    """The per-cluster and per-slice tables of rounds written before ``regions``: their
    pool figures, and their test rows' accuracies (no gained/lost there)."""
    regions = []
    for row in payload.get("per_cluster", []):
        test = (RegionOutcome("cluster", str(row["cluster"]), row["name"],
                              int(row["test_rows"]), row["test_accuracy_before"],
                              row["test_accuracy_after"], row.get("test_accuracy_control"))
                if row.get("test_rows") else None)
        regions.append(RegionChange("cluster", str(row["cluster"]), row["name"],
                                    row["cluster"] == payload.get("picked_cluster"),
                                    _legacy_summary(row), test))
    for row in payload.get("per_slice", []):
        accuracies = {f"{where}accuracy_{when}": 1 - row[f"{where}error_{when}"]
                      for where in ("", "test_") for when in ("before", "after")
                      if row.get(f"{where}error_{when}") is not None}
        test = (RegionOutcome("slice", row["slice"], row["slice"], int(row["test_rows"]),
                              accuracies["test_accuracy_before"],
                              accuracies["test_accuracy_after"])
                if row.get("test_rows") else None)
        regions.append(RegionChange("slice", row["slice"], row["slice"], bool(row["targeted"]),
                                    _legacy_summary({**row, **accuracies}), test))
    return regions


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
    the base model and each control. ``regions``: every region of the explored run, those
    the samples were made for first (``RegionChange``: its pool rows against the base model,
    its test rows against the control); ``per_class``: the pool per true label against the
    base model; ``across_seeds`` gives per split the mean, std, min and max of the accuracy
    after."""

    picked_cluster: int | None
    seeds: list[SeedComparison]
    regions: list[RegionChange]
    per_class: list[ClassChange]
    across_seeds: dict[str, SeedSpread]
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
                   regions=([RegionChange.from_json(region) for region in payload["regions"]]
                            if "regions" in payload else _legacy_regions(payload)),
                   per_class=[ClassChange.from_json(c) for c in payload.get("per_class", [])],
                   across_seeds={split: SeedSpread(**spread) for split, spread
                                 in payload.get("across_seeds", {}).items()},
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
                "regions": [region.to_json() for region in self.regions],
                "per_class": [c.to_json() for c in self.per_class],
                "seeds": [seed.to_json() for seed in self.seeds],
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
