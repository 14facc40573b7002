from __future__ import annotations

import numpy as np
import pandas as pd

from topex_core.explorer.evidence import cluster_evidence, rank_by_evidence, slice_evidence

CLUSTER_COLUMNS = ["cluster", "size", "errors", "is_error_cluster"]


def _clusters(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=CLUSTER_COLUMNS)


def _slices(*rows) -> pd.DataFrame:
    """slices.csv rows: a key's words before " | " are its terms (the key is the
    explorer's; here it only names the test's slices)."""
    table = pd.DataFrame(rows, columns=["slice", "rows", "errors", "base_rate", "q"])
    return table.assign(term=table["slice"],
                        terms=[key.split(" | ")[0].replace(" + ", "; ") for key in table["slice"]])


def _rank(clusters: pd.DataFrame, slices: pd.DataFrame, rows: int = 6_000,
          errors: int = 600):
    return rank_by_evidence([
        *cluster_evidence(clusters, {str(c): f"cluster words {c}" for c in clusters["cluster"]},
                          rows=rows, errors=errors),
        *slice_evidence(slices, {s: f"{s} words" for s in slices["slice"]})])


def test_a_slice_explaining_more_mistakes_beats_a_tight_small_cluster() -> None:
    """The held-out case: cluster 23 (19 rows, all wrong) against the comedy slice (225
    rows, 160 wrong at a 10% base)."""
    ranked = _rank(_clusters((23, 19, 18, True), (4, 300, 40, False)),
                   _slices(("comedy | negative", 225, 160, 0.1, 7e-59)))
    assert [(e.kind, e.key) for e in ranked] == [("slice", "comedy | negative"),
                                                 ("cluster", "23")]
    assert ranked[0].explained == 160 - 22.5 and ranked[0].purity == 160 / 225
    assert ranked[1].explained == 18 - 19 * 0.1 and ranked[1].q < 1e-10
    reason = ranked[0].reason(ranked[1])
    assert reason.startswith("Picked the slice “comedy | negative words”: 160 of its 225 rows")
    assert "138 mistakes more than its scope's error rate would give" in reason
    assert "the most of any region with enough rows to repair and measure where most rows fail" in reason
    assert "Next: cluster words 23 (16 more than its rate, 95% misclassified)" in reason
    assert "descriptive" not in reason  # a term slice's q is a test
    assert ", descriptive)" in ranked[1].reason(None)  # a cluster's rows were its mistakes


def test_regions_where_most_rows_fail_come_before_wide_diffuse_ones() -> None:
    ranked = _rank(_clusters((1, 40, 36, True)),
                   _slices(("the", 3_000, 450, 0.1, 1e-20),  # 150 beyond the base, 15%
                           ("noise", 30, 6, 0.1, 0.3)))  # not significant: last
    assert [e.key for e in ranked] == ["1", "the", "noise"]
    assert [e.tier for e in ranked] == [0, 1, 2]
    assert "none has most of its rows misclassified" in ranked[1].reason(None)
    assert "no region is significant" in ranked[2].reason(None)


def test_concepts_are_called_concepts_and_nothing_ranks_empty() -> None:
    ranked = _rank(_clusters(), _slices(("comedy + funny | negative", 50, 45, 0.1, 1e-30)))
    assert ranked[0].reason(None).startswith("Picked the concept")
    # its terms were each kept for failing, so its own q cannot fail: it describes
    assert ", descriptive)" in ranked[0].reason(None)
    assert _rank(_clusters(), _slices()) == []


def test_a_region_too_small_to_repair_and_measure_is_not_the_default_target() -> None:
    """The held-out sentiment case: a 12-row cluster with no shared wording (9 mistakes,
    all in one tight place) led, while negation in positive reviews (62 mistakes in a
    slice where most rows are right) waited below it. A region needs 10 mistakes and, with
    a test split, 10 test rows; the small one stays in the list."""
    from dataclasses import replace

    ranked = _rank(_clusters((7, 12, 9, True)),
                   _slices(("no + not | positive", 400, 62, 0.06, 2e-6)))
    assert [e.key for e in ranked] == ["no + not | positive", "7"]
    assert [e.tier for e in ranked] == [1, 0] and not ranked[1].actionable
    assert "significant region with enough rows to repair and measure" in ranked[0].reason(
        None)
    with_test = rank_by_evidence([replace(ranked[0], test_rows=4),
                                  replace(ranked[1], test_rows=30)])
    assert [e.actionable for e in with_test] == [False, False]  # 4 test rows; 9 mistakes
    alone = ranked[1].reason(None)
    assert "No region has 10 mistakes and 10 test rows" in alone


def test_one_failure_found_again_is_folded_into_the_region_that_names_it() -> None:
    """TREC's shape: a broad slice (`does`, 23% wrong), the narrow slice that says the
    failure (`stand for`, 95%), a tight cluster inside it (100%), a cluster of another
    confusion with the same rows, and a cluster half inside."""
    from topex_core.explorer.evidence import same_failures

    weighed = _rank(_clusters((1, 14, 14, True), (2, 14, 14, True), (3, 12, 11, True)),
                    _slices(("does", 326, 75, 0.08, 1e-20), ("stand for", 39, 37, 0.08, 1e-30)))
    # ranked as a test split ranks them there: `does` has the test rows to measure on
    order = ["does", "stand for", "1", "2", "3"]
    ranked = sorted(weighed, key=lambda e: order.index(e.key))
    confusions = ["ABBR → DESC", "ABBR → DESC", "ABBR → DESC", "HUM → ENTY", "ABBR → DESC"]
    does = np.arange(75)
    mistakes = [does, np.arange(37), np.arange(14), np.arange(14),
                np.concatenate([np.arange(5), np.arange(200, 206)])]
    folded = same_failures(ranked, confusions, mistakes)
    # the cluster is `stand for` found again; `stand for` fails far more than `does` and
    # stays; another confusion, or mistakes half elsewhere, stay
    assert folded == {2: 1}
    # a region folded into another takes no region in: the next looks past it
    assert same_failures(ranked[2:], confusions[2:], [mistakes[2], mistakes[2], mistakes[2]]
                         ) == {2: 0}
    assert same_failures(ranked[:2], confusions[:2], [does, np.zeros(0, np.int64)]) == {}
