"""One scale of evidence for every error region, error clusters and slices alike: which to
target first.

The weighted score ranks error clusters among themselves (TopEx's metrics: how tight,
how far from the rest, how alike their texts); it cannot compare a cluster with a slice,
and it prefers a tight cluster of 19 rows to a slice of 225 rows with 160 mistakes. For a
region of ``n`` rows, ``e`` of them misclassified, in a scope (every row for a cluster;
the slice's scope) whose error rate is ``b``:

- mistakes explained: e − n·b, the mistakes beyond what the scope's error rate would put
  in ``n`` rows: what a repair of the region can win;
- q: the slice's Benjamini–Hochberg q-value; for a cluster, the one-sided Fisher test of
  its rows against every row, corrected over the error clusters (descriptive: a cluster's
  rows were grouped without the labels, but kept for its mistakes);
- purity: e / n.

A region an analyst can act on (*actionable*) has at least ``MIN_MISTAKES`` mistakes to
rewrite and, where the run has a test split, at least ``MIN_TEST_ROWS`` test rows to
measure a round on; the actionable regions come first, so a tight cluster of a handful of
rows ("no shared wording", 9 mistakes) stays in the list but is not what the page opens
on. Within that, the regions with q ≤ ``ALPHA`` where most rows fail (purity ≥
``MOSTLY``) come first, by mistakes explained; then the other significant ones, by
mistakes explained; then the rest. The first is the default target.

One failure, one region: a region of the same confusion as a stronger one, whose mistakes
lie (``SAME_FAILURE``) inside that one's and which fails no more sharply (its error rate
at most ``SHARPER`` above), is the same failure found again — a tight cluster inside the
slice that names it — and is listed with it, not as a region of its own
(``same_failures``). A narrower region that fails much more often (`stand for` inside
`does`) says something its broader one does not, and stays. A kind of
``region_kinds`` enters the ranking through its evidence function (``cluster_evidence``,
``slice_evidence``); a kind without one (the confusion cell: all its rows are mistakes by
construction) is picked by hand.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from topex_core.explorer.concepts import fisher_p
from topex_core.explorer.regions import slice_terms

ALPHA = 0.05
MOSTLY = 0.5
MIN_MISTAKES = 10  # mistakes a round can rewrite, one each
MIN_TEST_ROWS = 10  # test rows a round's target is measured on
SAME_FAILURE = 0.9  # share of a region's mistakes inside a stronger region's
SHARPER = 0.1  # the error rate by which a narrower region says more than its broader one


@dataclass(frozen=True)
class Evidence:
    """How strongly one region (``kind`` and ``key`` its reference) says the model fails
    there; see the module. ``what`` is how the reason names it ("cluster 3", "the
    concept"); ``descriptive``: its q describes, it does not test (its rows were kept for
    their mistakes)."""

    kind: str
    key: str
    name: str
    rows: int
    errors: int
    base_rate: float
    q: float
    what: str
    descriptive: bool
    test_rows: int | None = None  # its test rows; None: the run has no test split

    @property
    def actionable(self) -> bool:
        """Enough mistakes to rewrite and, with a test split, test rows to measure on."""
        return self.errors >= MIN_MISTAKES and (self.test_rows is None
                                                or self.test_rows >= MIN_TEST_ROWS)

    @property
    def purity(self) -> float:
        return self.errors / self.rows if self.rows else 0.0

    @property
    def explained(self) -> float:
        """Mistakes beyond the scope's error rate."""
        return self.errors - self.rows * self.base_rate

    @property
    def tier(self) -> int:
        """0: significant and mostly failing; 1: significant; 2: neither."""
        if not self.q <= ALPHA:
            return 2
        return 0 if self.purity >= MOSTLY else 1

    def reason(self, runner_up: Evidence | None) -> str:
        """Why this region is the default target, in a sentence or two."""
        lift = f", {self.purity / self.base_rate:.1f}× its scope's rate" if self.base_rate else ""
        descriptive = ", descriptive" if self.descriptive else ""
        sentence = (f"Picked {self.what} “{self.name}”: {self.errors:,} of its {self.rows:,} rows "
                    f"are misclassified ({self.purity:.0%}{lift}; q = {self.q:.1e}"
                    f"{descriptive}), "
                    f"{self.explained:,.0f} mistakes more than its scope's error rate "
                    f"would give")
        enough = (" with enough rows to repair and measure" if self.actionable
                  else "")
        if self.tier == 0:
            sentence += f", the most of any region{enough} where most rows fail."
        elif self.tier == 1:
            sentence += (f", the most of any significant region{enough} (none has most of "
                         "its rows misclassified).")
        else:
            sentence += " (no region is significant at q ≤ 0.05)."
        if not self.actionable:
            sentence += (f" No region has {MIN_MISTAKES} mistakes and {MIN_TEST_ROWS} test "
                         "rows: a round on it is measured on few rows.")
        if runner_up is not None:
            sentence += (f" Next: {runner_up.name} ({runner_up.explained:,.0f} more than its "
                         f"rate, {runner_up.purity:.0%} misclassified).")
        return sentence


def cluster_evidence(clusters: pd.DataFrame, names: dict[str, str], *, rows: int,
                     errors: int) -> list[Evidence]:
    """The evidence of every error cluster of ``clusters`` (clusters.csv; ``names`` by
    key): its rows against every row of the pool (``rows``, ``errors`` its mistakes),
    Fisher's test corrected over the error clusters, descriptive (a cluster's rows were
    kept for their mistakes)."""
    error_clusters = clusters[clusters["is_error_cluster"].astype(bool)]
    base_rate = errors / rows if rows else 0.0
    p = np.array([fisher_p(int(row.errors), int(row.size), errors, rows)
                  for row in error_clusters.itertuples()])
    q = stats.false_discovery_control(p, method="bh") if len(p) else p
    return [Evidence("cluster", key, names[key], int(row.size), int(row.errors), base_rate,
                     float(q_value), f"cluster {key}", descriptive=True)
            for row, q_value in zip(error_clusters.itertuples(), q, strict=True)
            for key in [str(int(row.cluster))]]


def slice_evidence(slices: pd.DataFrame, names: dict[str, str]) -> list[Evidence]:
    """The evidence of every slice of ``slices`` (slices.csv; ``names`` by key): its own
    Benjamini–Hochberg q against its scope; a concept's describes (its terms were each
    kept for failing, so their union cannot fail the test)."""
    evidence = []
    for row in slices.to_dict("records"):
        concept = len(slice_terms(row)) > 1
        evidence.append(Evidence(
            "slice", str(row["slice"]), names[str(row["slice"])], int(row["rows"]),
            int(row["errors"]), float(row["base_rate"]), float(row["q"]),
            f"the {'concept' if concept else 'slice'}", descriptive=concept))
    return evidence


def rank_by_evidence(evidence: Iterable[Evidence]) -> list[Evidence]:
    """The regions' ``evidence``, strongest first (see the module)."""
    return sorted(evidence, key=lambda one: (not one.actionable, one.tier, -one.explained,
                                              one.q))


def same_failures(ranked: Sequence[Evidence], confusions: Sequence[str],
                  mistakes: Sequence[np.ndarray]) -> dict[int, int]:
    """{position in ``ranked`` of a region: position of the stronger region it is the same
    failure as} (see the module); ``confusions`` and ``mistakes`` (sorted unique row
    positions of its misclassified rows) are each region's, in ``ranked``'s order. A
    region is folded into the first stronger region that is not folded itself."""
    folded: dict[int, int] = {}
    for later, (evidence, confusion, wrong) in enumerate(
            zip(ranked, confusions, mistakes, strict=True)):
        if not len(wrong):
            continue
        for earlier in range(later):
            if (earlier not in folded and confusions[earlier] == confusion
                    and ranked[earlier].purity >= evidence.purity - SHARPER
                    and np.isin(wrong, mistakes[earlier], assume_unique=True).mean()
                    >= SAME_FAILURE):
                folded[later] = earlier
                break
    return folded
