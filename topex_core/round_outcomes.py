"""The typed outcomes of a training round on its test split: what it did to a group of
rows (``RegionOutcome``), to a class (``ClassOutcome``), the three groups against one
control (``RoundGroups``) and the verdict (``Verdict``), as ``round_records.RoundMetrics``
holds them in round.json. Frozen dataclasses; importing this module imports no torch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from topex_core.records import Json

SIGNIFICANCE = 0.05
CONTROLS = ("matched", "plain")  # label-matched rows instead of the samples; no samples
GROUP_KINDS = ("target", "complement", "rest")
VERDICTS = ("repaired", "at_a_cost", "not_repaired", "cannot_tell")
VERDICT_WORDS = {"repaired": "repaired", "at_a_cost": "the target gained, at a cost",
                 "not_repaired": "not repaired", "cannot_tell": "cannot tell"}


def interval_from_json(value: object) -> tuple[float, float] | None:
    """An interval as JSON holds it ([low, high] or null) as a tuple (or None)."""
    if not value:
        return None
    low, high = value
    return float(low), float(high)


def interval_to_json(interval: tuple[float, float] | None) -> list[float] | None:
    return list(interval) if interval is not None else None


@dataclass(frozen=True)
class RegionOutcome:
    """What a round did to a group of test rows: a region (``kind`` and ``key`` its reference),
    a group of the round (``GROUP_KINDS``) or the whole test split ("overall"). Accuracy of
    the base model (before), of the models retrained with the samples (after) and of the
    control (shares, the mean over ``seeds``); ``vs_control`` = after − control on the same
    rows; ``gained`` / ``lost``: rows the round gets right more / less often than the
    control (each row once), McNemar's exact p on them and its exact 95% interval
    (``retraining.paired``; None when no row changed). None without a control; accuracies
    None for a group without test rows. ``control``: which control ("matched", "plain").
    Rounds written before the groups hold the first seed, a bootstrap interval and no
    control's name (it was the plain one)."""

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
    gained: int | None = None
    lost: int | None = None
    seeds: int = 1
    control: str | None = None

    @property
    def change(self) -> float | None:
        """after − before (None without test rows)."""
        if self.accuracy_after is None or self.accuracy_before is None:
            return None
        return self.accuracy_after - self.accuracy_before

    @property
    def worse(self) -> bool:
        """Whether the round significantly lost rows here against the control (p < 0.05)."""
        return (self.mcnemar_p is not None and self.mcnemar_p < SIGNIFICANCE
                and (self.lost or 0) > (self.gained or 0))

    @classmethod
    def from_json(cls, payload: Json) -> RegionOutcome:
        interval = interval_from_json(payload.get("vs_control_ci95"))
        return cls(**{**payload, "vs_control_ci95": interval})

    def to_json(self) -> Json:
        return {**asdict(self), "vs_control_ci95": interval_to_json(self.vs_control_ci95)}


def outcome_sentence(outcome: RegionOutcome) -> str:
    """What a round did to a region, in one sentence a page can show beside it."""
    if not outcome.test_rows:
        return "no test row falls into it, so the test split cannot tell what it did"
    rows = f"{outcome.test_rows:,} test row{'s' if outcome.test_rows != 1 else ''}"
    moved = f"test accuracy {outcome.accuracy_before:.0%} → {outcome.accuracy_after:.0%}"
    if outcome.vs_control is None:
        return f"{moved} on {rows} (no control was trained)"
    control = {"matched": "the label-matched control"}.get(outcome.control, "the control")
    return (f"{moved} on {rows}, control {outcome.accuracy_control:.0%}: "
            f"{100 * outcome.vs_control:+.1f} points beyond {control} "
            f"({interval_words(outcome)})")


def interval_words(outcome: RegionOutcome) -> str:
    """"12 gained, 1 lost; interval +3.1 to +20.5, McNemar p = 0.003" (no interval when
    no row changed)."""
    counts = (f"{outcome.gained} gained, {outcome.lost} lost; "
              if outcome.gained is not None else "")
    if outcome.vs_control_ci95 is None:
        return f"{counts}no row changed" if counts else "no row changed"
    low, high = outcome.vs_control_ci95
    return (f"{counts}interval {100 * low:+.1f} to {100 * high:+.1f}, McNemar p = "
            f"{outcome.mcnemar_p:.2g}")


@dataclass(frozen=True)
class ClassOutcome:
    """One true label's test rows, the round against a control: accuracies (mean over
    seeds), rows gained and lost (each once), McNemar's p and exact interval; and the share
    of *all* test rows predicted as this label by the control and after the round (a round
    that moves the boundary toward its samples' label raises that share)."""

    label: str
    test_rows: int
    accuracy_control: float
    accuracy_after: float
    gained: int
    lost: int
    mcnemar_p: float
    vs_control_ci95: tuple[float, float] | None
    predicted_control: float
    predicted_after: float

    @property
    def vs_control(self) -> float:
        return self.accuracy_after - self.accuracy_control

    @classmethod
    def from_json(cls, payload: Json) -> ClassOutcome:
        return cls(**{**{k: v for k, v in payload.items() if k != "vs_control"},
                      "vs_control_ci95": interval_from_json(payload.get("vs_control_ci95"))})

    def to_json(self) -> Json:
        return {**asdict(self), "vs_control": self.vs_control,
                "vs_control_ci95": interval_to_json(self.vs_control_ci95)}


@dataclass(frozen=True)
class RoundGroups:
    """The test split in three groups without overlap, the round against one ``control``
    ("matched" or "plain"): ``target``, the rows of the targeted regions whose true label
    is the one their mistakes have (``label``); ``complement``, the regions' other rows (the
    rows holding a slice's terms, or within a cluster's reach, with another true label:
    what a shortcut would break); ``rest``, every other test row. ``per_class``: every true
    label's rows; ``shift``: a sentence when the gains and losses split by label (None
    when they do not)."""

    control: str
    label: str
    target: RegionOutcome
    complement: RegionOutcome
    rest: RegionOutcome
    per_class: list[ClassOutcome]
    shift: str | None = None

    @classmethod
    def from_json(cls, payload: Json) -> RoundGroups:
        return cls(control=payload["control"], label=payload["label"],
                   target=RegionOutcome.from_json(payload["target"]),
                   complement=RegionOutcome.from_json(payload["complement"]),
                   rest=RegionOutcome.from_json(payload["rest"]),
                   per_class=[ClassOutcome.from_json(c) for c in payload["per_class"]],
                   shift=payload.get("shift"))

    def to_json(self) -> Json:
        return {"control": self.control, "label": self.label,
                "target": self.target.to_json(), "complement": self.complement.to_json(),
                "rest": self.rest.to_json(),
                "per_class": [c.to_json() for c in self.per_class], "shift": self.shift}


@dataclass(frozen=True)
class Verdict:
    """Whether a round repaired its target (``VERDICTS``), against which control, and why
    (``sentence``, lower-case: the figures behind the status; ``retraining.groups``)."""

    status: str
    control: str | None
    sentence: str

    @property
    def words(self) -> str:
        """The status as a page says it: "the target gained, at a cost"."""
        return VERDICT_WORDS[self.status]

    @property
    def text(self) -> str:
        """"Not repaired: target +5.6 points beyond …" — the status, then why."""
        return f"{self.words[0].upper()}{self.words[1:]}: {self.sentence}"

    def __post_init__(self) -> None:
        if self.status not in VERDICTS:
            raise ValueError(f"unknown verdict '{self.status}'; one of {', '.join(VERDICTS)}")


def optional_groups(payload: Json | None) -> RoundGroups | None:
    return RoundGroups.from_json(payload) if payload else None


def optional_outcome(payload: Json | None) -> RegionOutcome | None:
    return RegionOutcome.from_json(payload) if payload else None
