"""Seeds pooled by test row: an experiment's seeds share one test split, so a row is one
row however many seeds predicted it (``experiments.measure`` keeps the rows behind every
count in ``outcomes.jsonl``).

For a group of rows and a set of results (one per seed), each row's net outcome is the sum
over the seeds that had it in the group of +1 (gained against the control) or −1 (lost);
a row is gained when its net outcome is positive, lost when negative, and McNemar's exact
test and its interval (``retraining.paired``) are computed on those distinct rows. The
accuracies are the means over every (seed, row) the group held.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from topex_core.experiments.measure import GROUPS
from topex_core.retraining.groups import verdict
from topex_core.retraining.paired import mcnemar_exact, mcnemar_interval
from topex_core.round_outcomes import RegionOutcome, RoundGroups


def group_rows(line: dict, group: str) -> np.ndarray:
    """The split positions of ``group`` in one outcome line."""
    everything = np.arange(line["rows"])
    if group == "overall":
        return everything
    if group == "rest":
        return np.setdiff1d(everything, np.union1d(line["target"], line["complement"]))
    return np.asarray(line[group], np.int64)


def pooled_counts(lines: Sequence[dict], group: str, *, against: str = "control"
                  ) -> tuple[int, int, int]:
    """(distinct rows, gained, lost) of ``group`` over ``lines`` (one per seed), against
    the control (``gained``/``lost``) or the base model (``against="base"``:
    ``fixed``/``broken``)."""
    up, down = ("gained", "lost") if against == "control" else ("fixed", "broken")
    net: dict[int, int] = {}
    for line in lines:
        rows = group_rows(line, group)
        for row in rows:
            net.setdefault(int(row), 0)
        for row in np.intersect1d(line[up], rows):
            net[int(row)] += 1
        for row in np.intersect1d(line[down], rows):
            net[int(row)] -= 1
    outcomes = np.fromiter(net.values(), np.int64, len(net))
    return len(net), int((outcomes > 0).sum()), int((outcomes < 0).sum())


def pooled_outcome(results: pd.DataFrame, lines: Sequence[dict], group: str,
                   prefix: str = "") -> RegionOutcome:
    """``group`` over the seeds of ``results`` (rows of one strategy and n) and their
    outcome ``lines`` of one split (``prefix``: "" for the test split, "val_")."""
    column = f"{prefix}{group}"
    weights = results[f"{column}_test_rows"].fillna(0).to_numpy(float)
    rows, gained, lost = pooled_counts(lines, group)
    if not weights.sum() or not rows:
        return RegionOutcome(group, "", group, 0, None, None, seeds=len(results))

    def mean(field: str) -> float:
        return float(np.average(results[f"{column}_{field}"].fillna(0), weights=weights))

    after, control = mean("accuracy_after"), mean("accuracy_control")
    return RegionOutcome(group, "", group, rows, mean("accuracy_before"), after,
                         accuracy_control=control, vs_control=after - control,
                         vs_control_ci95=mcnemar_interval(rows, gained, lost),
                         mcnemar_p=mcnemar_exact(gained, lost), gained=gained, lost=lost,
                         seeds=len(results))


def pooled_table(results: pd.DataFrame, outcomes: Sequence[dict], *,
                 split: str = "test") -> pd.DataFrame:
    """One row per (strategy, n) of one experiment's results with a target region: the
    groups pooled by row over its seeds, on ``split`` ("test" or "validation"), and the
    verdict they give. Empty for experiments written before ``outcomes.jsonl``."""
    prefix = "" if split == "test" else "val_"
    if f"{prefix}target_test_rows" not in results or not outcomes:
        return pd.DataFrame()
    ok = results[(results["status"] == "ok") & results[f"{prefix}target_test_rows"].notna()]
    by_key = {(line["seed"], line["strategy"], line["n"]): line for line in outcomes
              if line["split"] == split}
    rows = []
    for (strategy, n), group in ok.groupby(["strategy", "n"], sort=False):
        lines = [by_key[key] for key in zip(group["seed"], group["strategy"], group["n"],
                                            strict=True) if key in by_key]
        if len(lines) < len(group):
            continue
        outcome = {name: pooled_outcome(group, lines, name, prefix) for name in GROUPS}
        judged = verdict(RoundGroups(str(group["control"].iloc[0]), "", outcome["target"],
                                     outcome["complement"], outcome["rest"], []),
                         has_test=True)
        rows.append({"strategy": strategy, "n": int(n), "seeds": len(group),
                     "samples": int(group["samples"].mean()), "verdict": judged.status,
                     "plain_target": 100 * float(group[f"{prefix}plain_target_vs_control"]
                                                 .mean()),
                     "label_share_control": float(group[f"{prefix}label_share_control"].mean()),
                     "label_share_after": float(group[f"{prefix}label_share_after"].mean()),
                     **{name: value for name, value in outcome.items()}})
    return pd.DataFrame(rows)
