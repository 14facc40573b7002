"""Paired statistics of a round: the same test rows predicted by two models (the round and
a control, or the round and the base model), one or several seeds.

With one seed, a row is *gained* when the round gets it right and the other model wrong,
*lost* the reverse. With k seeds (every seed predicts the same test rows, so they are not
k times as many rows), a row is gained when the round's models get it right in more seeds
than the other models, lost the reverse: each test row is counted once.

- McNemar's exact test on g gained and l lost rows: p = min(1, 2 · P(X ≤ min(g, l))),
  X ~ Binomial(g + l, ½); p = 1 when no row changed. With several seeds it is the exact
  sign test of the rows' net outcomes (symmetric around 0 when the two models are
  exchangeable).
- Its 95% interval, from the same conditional binomial: the Clopper–Pearson interval
  (π_lo, π_hi) of π = g / (g + l), scaled to the net share of rows gained,
  (g + l) / n · (2π − 1). It excludes 0 exactly when p < 0.05 (a test checks every count
  up to 50), and there is none when no row changed. With one seed the net share of rows
  gained is the accuracy difference; with several it is the share of rows the round gets
  right more often minus the share it gets right less often, and the accuracy difference
  (the mean over seeds) is reported beside it.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import beta, binom

from topex_core.round_records import PairedSummary

LEVEL = 0.95


def mcnemar_exact(gained: int, lost: int) -> float:
    """Two-sided exact McNemar p-value for ``gained`` and ``lost`` discordant rows."""
    if gained < 0 or lost < 0:
        raise ValueError("counts must be non-negative")
    changed = gained + lost
    if changed == 0:
        return 1.0
    return float(min(1.0, 2.0 * binom.cdf(min(gained, lost), changed, 0.5)))


def mcnemar_interval(rows: int, gained: int, lost: int) -> tuple[float, float] | None:
    """The exact 95% interval of (gained − lost) / rows that inverts McNemar's test (see
    the module); None when no row changed (or there are no rows)."""
    if gained < 0 or lost < 0 or gained + lost > rows:
        raise ValueError(f"counts must be non-negative and within {rows} rows, got "
                         f"{gained} gained and {lost} lost")
    changed = gained + lost
    if changed == 0:
        return None
    tail = (1 - LEVEL) / 2
    low = float(beta.ppf(tail, gained, lost + 1)) if gained else 0.0
    high = float(beta.ppf(1 - tail, gained + 1, lost)) if lost else 1.0
    scale = changed / rows
    return scale * (2 * low - 1), scale * (2 * high - 1)


def paired_summary(labels: np.ndarray, before_pred: np.ndarray,
                   after_pred: np.ndarray) -> PairedSummary:
    """Accuracy before/after, rows gained (``fixed``) and lost (``broken``), McNemar's p and
    its exact interval, of (n,) true labels and two predictions of the same rows: (n,) for
    one seed, or (k, n) for k seeds (each row counted once, see the module)."""
    labels = np.asarray(labels)
    before_correct = np.atleast_2d(np.asarray(before_pred) == labels)
    after_correct = np.atleast_2d(np.asarray(after_pred) == labels)
    net = after_correct.sum(axis=0, dtype=np.int64) - before_correct.sum(axis=0, dtype=np.int64)
    gained, lost = int((net > 0).sum()), int((net < 0).sum())
    return PairedSummary(rows=int(len(labels)), accuracy_before=_mean(before_correct),
                         accuracy_after=_mean(after_correct), fixed=gained, broken=lost,
                         mcnemar_p=mcnemar_exact(gained, lost),
                         diff_ci95=mcnemar_interval(len(labels), gained, lost)
                         if len(labels) else None)


def _mean(values: np.ndarray) -> float:
    return float(np.mean(values)) if values.size else float("nan")
