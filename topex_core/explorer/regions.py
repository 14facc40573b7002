"""The regions an analyst repairs, as typed rows: error clusters, error slices (a concept
is a slice of several terms) and confusion cells, and how a slices.csv row is named.
``region_kinds`` registers how each kind is built, joined and ranked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from topex_core.explorer.naming import NO_SHARED_WORDING
from topex_core.explorer.slices import TERMS_SEPARATOR
from topex_core.explorer.terms import form
from topex_core.region_ref import RegionRef

NAMED_TERMS = 5  # a concept's terms in its name; slices.csv lists them all


@dataclass(frozen=True)
class Region:
    """What an analyst repairs: an error cluster, an error slice, a confusion cell, or a
    union of them.

    ``kind``: its kind's name in ``region_kinds``; ``key``: opaque, made by its kind (the
    cluster number, the slice's key in slices.csv); ``name``: what prompts and pages call
    it; ``terms``: the words it is named by; ``label``: the true label its
    mistakes have, the default for samples; ``confusion``: "true → predicted" of its
    mistakes; ``rows``: (n,) int positions in the run's points; ``errors``: how many of
    them are misclassified. ``test_rows`` and the rows within its *reach* are computed on
    first use (a feature space needs the test split's features)."""

    kind: str
    key: str
    name: str
    terms: tuple[str, ...]
    label: str
    confusion: str
    rows: np.ndarray = field(repr=False, compare=False)
    errors: int
    _test_rows: Callable[[], np.ndarray] = field(repr=False, compare=False)
    _reach: Callable[[bool], np.ndarray] = field(repr=False, compare=False)

    @property
    def test_rows(self) -> np.ndarray:
        """(m,) int positions in the test points (empty without a test split)."""
        return self._test_rows()

    def reach(self, *, test: bool) -> np.ndarray:
        """(m,) int positions of the rows within the region's reach whatever their true
        label — a cluster's rows (test rows: those within its reach in the explored space),
        the rows holding a slice's terms — in the test points with ``test``, else in the
        pool's. Those of another label than ``label`` are what a shortcut toward ``label``
        would break."""
        return self._reach(test)

    @property
    def topic(self) -> str:
        """What the region's texts are about: the name without its confusion."""
        suffix = f" · {self.confusion}"
        return (self.name[: -len(suffix)] if self.confusion and self.name.endswith(suffix)
                else self.name)

    @property
    def subject(self) -> str:
        """What prompts ask a new text to be about (their issue): its topic;
        ``NO_SHARED_WORDING`` where its rows share a form, not words."""
        return self.topic

    @property
    def forms(self) -> tuple[str, ...]:
        """What every row of the region is like beyond its words, as requirements on a new
        text (``terms.form``: "the premise contains the word \"and\""); none for words."""
        return ()

    @property
    def confused_with(self) -> str | None:
        """The label the model wrongly gives the region's mistakes (None: it has none)."""
        return self.confusion.split(" → ")[1] if " → " in self.confusion else None

    @property
    def noun(self) -> str:
        """What one region of its kind is called: "cluster", "concept", "slice"."""
        return self.kind

    @property
    def heading(self) -> str:
        """The noun, and which one where a number tells them apart: "cluster 3", "slice"."""
        return self.noun

    @property
    def title(self) -> str:
        """How the pages list it: "cluster 3: …", "concept: …", "slice: …"."""
        return f"{self.heading}: {self.name}"

    @property
    def legend(self) -> str:
        """What a map's legend calls it: "slice oil", "concept comedy · funny"."""
        return f"{self.heading} {self.topic}"

    @property
    def listing(self) -> str:
        """How a table lists it (before its confusion): "cluster 3: parcel, courier"."""
        return f"{self.heading}: {self.topic}"

    @property
    def defining_terms(self) -> tuple[str, ...]:
        """The terms a row holds to be in the region (a slice's); none where words only
        describe it."""
        return ()

    @property
    def ref(self) -> RegionRef:
        """What names this region outside the explorer (the store, the session, the CLI)."""
        return RegionRef(self.kind, self.key)

    @property
    def cluster(self) -> int | None:
        """The cluster number of an error cluster; None for other kinds."""
        return None


@dataclass(frozen=True)
class ErrorCluster(Region):
    """An error cluster: ``rank`` by the weighted score (1 = augment first), its majority
    labels, the share of its texts its keywords cover, and its scores (``scoring``:
    {name: value} in ``SCORE_COLUMNS``' order)."""

    rank: int = 0
    true_majority: str = ""
    pred_majority: str = ""
    name_coverage: float = float("nan")
    scores: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def error_rate(self) -> float:
        return self.errors / len(self.rows) if len(self.rows) else 0.0

    @property
    def heading(self) -> str:
        return f"cluster {self.key}"

    @property
    def cluster(self) -> int:
        return int(self.key)


@dataclass(frozen=True)
class ErrorSlice(Region):
    """An error slice: the rows with ``term`` — or, for a concept, with any of its
    ``terms``; ``term`` is then their name, "comedy · funny · humor" — (of ``true_label``
    only, when set) fail more often (``error_rate``) than every row of that scope
    (``base_rate``), ``lift`` times; ``q`` is its Benjamini–Hochberg q-value;
    ``example_ids``: ids of a few of its misclassified rows."""

    term: str = ""
    true_label: str = ""
    error_rate: float = float("nan")
    base_rate: float = float("nan")
    lift: float = float("nan")
    q: float = float("nan")
    example_ids: tuple[int, ...] = ()

    @property
    def is_concept(self) -> bool:
        """Whether several terms of one meaning make this slice (``concepts``)."""
        return len(self.terms) > 1

    @property
    def topic(self) -> str:
        """What the rows are about: the term, or a concept's first ``NAMED_TERMS`` terms
        (what prompts call the issue)."""
        return " · ".join(self.terms[:NAMED_TERMS]) if self.is_concept else super().topic

    @property
    def subject(self) -> str:
        """Its words without the scope, which the prompt's label says; a structural term or
        trait is a form (``forms``), not a subject."""
        if self.forms:
            return NO_SHARED_WORDING
        return self.topic if self.is_concept else self.term

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(found for found in map(form, self.terms) if found)

    @property
    def scope(self) -> str:
        """"rows whose true label is X" or "all rows"."""
        return (f"rows whose true label is {self.true_label}" if self.true_label
                else "all rows")

    @property
    def listing(self) -> str:
        """The scope before the words, so that a long term cut at a column's edge keeps
        it: "slice (true entailment): premise has a preposition, …"."""
        scope = f" (true {self.true_label})" if self.true_label else ""
        return f"{self.heading}{scope}: {self.topic if self.is_concept else self.term}"

    @property
    def noun(self) -> str:
        return "concept" if self.is_concept else "slice"

    @property
    def defining_terms(self) -> tuple[str, ...]:
        return self.terms


@dataclass(frozen=True)
class ConfusionCell(Region):
    """A cell of the confusion matrix: the rows of true label ``label`` the base model
    predicts ``predicted``. Its rows (``rows``, ``test_rows``) are those mistakes; its
    reach is every row predicted ``predicted``, so the rows of that label it predicts
    rightly are the complement a shortcut toward ``label`` would break."""

    predicted: str = ""

    @property
    def noun(self) -> str:
        return "confusion cell"

    @property
    def legend(self) -> str:
        return f"true {self.label} → {self.predicted}"

    @property
    def topic(self) -> str:
        """Its rows share a mistake, not a subject: prompts say what the examples share."""
        return NO_SHARED_WORDING


@dataclass(frozen=True)
class RegionUnion(Region):
    """Several regions an analyst merged into one target (``parts``: two or more, of any
    kinds): its rows, test rows and reach are the union of theirs; its label and
    confusion those of most of its mistakes; it is named by its parts. A row holds its
    defining terms when every part is defined by terms (slices), else it has none."""

    parts: tuple[Region, ...] = field(default=(), compare=False)

    @property
    def noun(self) -> str:
        return f"union of {len(self.parts)} regions"

    @property
    def topic(self) -> str:
        return " + ".join(part.topic for part in self.parts)

    @property
    def subject(self) -> str:
        """Its parts' subjects; a row holds any part, so no part's form binds a new text."""
        subjects = [part.subject for part in self.parts]
        return " + ".join(subject for subject in subjects
                          if subject != NO_SHARED_WORDING) or NO_SHARED_WORDING

    @property
    def legend(self) -> str:
        return " + ".join(part.legend for part in self.parts)

    @property
    def defining_terms(self) -> tuple[str, ...]:
        terms = [part.defining_terms for part in self.parts]
        return (tuple(dict.fromkeys(term for held in terms for term in held))
                if all(terms) else ())


def slice_terms(row: dict) -> tuple[str, ...]:
    """A slices.csv row's terms: one for a term slice, several for a concept (a run
    explored before concepts has no ``terms`` column: its term)."""
    terms = row.get("terms")
    if not isinstance(terms, str) or not terms:
        return (str(row["term"]),)
    return tuple(terms.split(TERMS_SEPARATOR))


def slice_name(row: dict) -> str:
    """``oil (true Business) · Business → World``: the term (a concept's first
    ``NAMED_TERMS`` terms, and how many more), its scope when it is one label's rows, and
    the confusion its mistakes carry."""
    terms = slice_terms(row)
    topic = (str(row["term"]) if len(terms) <= NAMED_TERMS
             else f"{' · '.join(terms[:NAMED_TERMS])} +{len(terms) - NAMED_TERMS} more")
    scope = f" (true {row['true_label']})" if row["true_label"] else ""
    return f"{topic}{scope} · {row['confusion']}"
