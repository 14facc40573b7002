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

The regions with q ≤ ``ALPHA`` where most rows fail (purity ≥ ``MOSTLY``) come first, by
mistakes explained; then the other significant ones, by mistakes explained; then the rest.
The first is the default target.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from topex_core.explorer.concepts import fisher_p

ALPHA = 0.05
MOSTLY = 0.5


@dataclass(frozen=True)
class Evidence:
    """How strongly one region (``kind`` "cluster" or "slice", ``key`` its key) says the
    model fails there; see the module."""

    kind: str
    key: str
    name: str
    rows: int
    errors: int
    base_rate: float
    q: float

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
        concept = self.kind == "slice" and " + " in self.key
        what = (f"cluster {self.key}" if self.kind == "cluster"
                else f"the {'concept' if concept else 'slice'}")
        lift = f", {self.purity / self.base_rate:.1f}× its scope's rate" if self.base_rate else ""
        # a cluster's rows were kept for their mistakes, a concept's terms for failing:
        # their q describes, it does not test
        descriptive = ", descriptive" if self.kind == "cluster" or concept else ""
        sentence = (f"Picked {what} “{self.name}”: {self.errors:,} of its {self.rows:,} rows "
                    f"are misclassified ({self.purity:.0%}{lift}; q = {self.q:.1e}"
                    f"{descriptive}), "
                    f"{self.explained:,.0f} mistakes more than its scope's error rate "
                    f"would give")
        if self.tier == 0:
            sentence += ", the most of any region where most rows fail."
        elif self.tier == 1:
            sentence += (", the most of any significant region (none has most of its rows "
                         "misclassified).")
        else:
            sentence += " (no region is significant at q ≤ 0.05)."
        if runner_up is not None:
            sentence += (f" Next: {runner_up.name} ({runner_up.explained:,.0f} more than its "
                         f"rate, {runner_up.purity:.0%} misclassified).")
        return sentence


def rank_by_evidence(clusters: pd.DataFrame, slices: pd.DataFrame, cluster_names: dict[str, str],
                     slice_names: dict[str, str], *, rows: int, errors: int) -> list[Evidence]:
    """Every error cluster of ``clusters`` (clusters.csv) and every slice of ``slices``
    (slices.csv), strongest first. ``rows``/``errors``: the pool's size and mistakes."""
    error_clusters = clusters[clusters["is_error_cluster"].astype(bool)]
    base_rate = errors / rows if rows else 0.0
    p = np.array([fisher_p(int(row.errors), int(row.size), errors, rows)
                  for row in error_clusters.itertuples()])
    q = stats.false_discovery_control(p, method="bh") if len(p) else p
    ranked = [Evidence("cluster", str(int(row.cluster)), cluster_names[str(int(row.cluster))],
                       int(row.size), int(row.errors), base_rate, float(q_value))
              for row, q_value in zip(error_clusters.itertuples(), q, strict=True)]
    ranked += [Evidence("slice", str(row.slice), slice_names[str(row.slice)], int(row.rows),
                        int(row.errors), float(row.base_rate), float(row.q))
               for row in slices.itertuples()]
    return sorted(ranked, key=lambda evidence: (evidence.tier, -evidence.explained,
                                                evidence.q))
