"""The run directory's owner: records round-trip, and reading one stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import make_run

from topex_core.errors import RunError, TopexError
from topex_core.round_records import RoundMetrics
from topex_core.rundir import ensure_run_id, read_run


def test_reading_a_run_record_imports_no_torch(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    code = ("import sys; from topex_core.rundir import read_run, read_points; "
            f"record = read_run({str(run)!r}); read_points({str(run)!r}); "
            "from topex_core.retraining import compare; "
            "print(record.label_names, 'torch' in sys.modules)")
    printed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout.split()
    assert printed[-1] == "False", "reading a run or computing McNemar imported torch"


def test_a_record_missing_a_field_is_a_run_error(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    payload = json.loads((run / "run.json").read_text())
    del payload["dataset"]
    (run / "run.json").write_text(json.dumps(payload))
    with pytest.raises(RunError, match="incomplete run record") as raised:
        read_run(run)
    assert isinstance(raised.value, TopexError)


def test_a_run_without_an_id_gets_one_once(tmp_path: Path) -> None:
    run = make_run(tmp_path / "run")
    payload = json.loads((run / "run.json").read_text())
    del payload["run_id"]
    (run / "run.json").write_text(json.dumps(payload))
    first = ensure_run_id(run)
    assert first and ensure_run_id(run) == first == read_run(run).run_id


def test_round_metrics_keep_the_json_layout_of_earlier_versions() -> None:
    summary = {"rows": 4, "accuracy_before": 0.5, "accuracy_after": 0.75, "fixed": 1,
               "broken": 0, "mcnemar_p": 1.0, "diff_ci95": [0.0, 0.5]}
    written = {"picked_cluster": 3, "accuracy_before": {"pool": 0.5, "test": None},
               "accuracy_after": {"pool": 0.75, "test": None}, "fixed": 1, "broken": 0,
               "mcnemar_p": 1.0, "diff_ci95": [0.0, 0.5], "test": None, "per_cluster": [],
               "per_class": [], "seeds": [{"seed": 0, "pool": summary,
                                           "against_control": {"pool": summary}}],
               "across_seeds": {}, "against_control": {"pool": summary}}
    # what earlier versions wrote reads back; newer versions keep the regions typed (the
    # per-cluster and per-slice rows become regions), and add the targets' outcomes, the
    # matched control, the groups and the verdict (none for a round written before them)
    written_regions = {key: value for key, value in written.items() if key != "per_cluster"}
    assert RoundMetrics.from_json(written).to_json() == {
        **written_regions, "regions": [], "targets": [], "overall": None,
        "worst_other": None, "against_matched_control": None, "groups": None,
        "plain_groups": None, "verdict": None}
    cluster_row = {"cluster": 3, "name": "late parcels", "rows": 10, "accuracy_before": 0.2,
                   "accuracy_after": 0.6, "change": 0.4, "fixed": 4, "broken": 0,
                   "test_rows": 5, "test_accuracy_before": 0.0, "test_accuracy_after": 0.8,
                   "test_accuracy_control": 0.4}
    slice_row = {"targeted": False, "slice": "parcel", "term": "parcel", "true_label": "",
                 "rows": 8, "error_before": 0.5, "error_after": 0.25, "fixed": 2,
                 "broken": 0, "test_rows": 0, "test_error_before": None,
                 "test_error_after": None}
    old = RoundMetrics.from_json({**written, "per_cluster": [cluster_row],
                                  "per_slice": [slice_row],
                                  "per_class": [{"label": "billing", **cluster_row}]})
    cluster, term = old.regions
    assert (cluster.kind, cluster.key, cluster.targeted) == ("cluster", "3", True)
    assert cluster.pool.accuracy_after == 0.6 and cluster.test.accuracy_control == 0.4
    assert (term.kind, term.key, term.test) == ("slice", "parcel", None)
    assert term.pool.accuracy_before == 0.5 and term.pool.accuracy_after == 0.75
    assert old.per_class[0].label == "billing" and old.per_class[0].pool.fixed == 4
