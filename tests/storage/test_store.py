from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from topex_core.data.dataset import read_table
from topex_core.records import DatasetRecord, RunRecord
from topex_core.region_ref import RegionRef
from topex_core.rundir import new_run_id, write_run
from topex_core.storage.candidates import candidate_targets
from topex_core.storage.export import export_run, export_samples
from topex_core.storage.schema import MIGRATIONS, SCHEMA_VERSION
from topex_core.storage.store import Candidate, Store, StoreError
from topex_core.train_config import RunConfig

WORKER = str(Path(__file__).with_name("store_worker.py"))
ROOT = str(Path(__file__).resolve().parents[2])


def decisions_in(store: Store) -> int:
    with sqlite3.connect(store.path) as db:
        return int(db.execute("SELECT COUNT(*) FROM decisions").fetchone()[0])


def fake_run(directory: Path) -> Path:
    (directory / "model").mkdir(parents=True)
    (directory / "model" / "model.safetensors").write_bytes(b"weights")
    write_run(directory, RunRecord(
        run_id=new_run_id(), label_names=["billing", "shipping"], config=RunConfig(seed=0),
        dataset=DatasetRecord(source="x.csv", rows=2, text_col="text", label_col="label",
                              content_hash="abc")))
    return directory


@pytest.fixture()
def store(tmp_path: Path):
    with Store(tmp_path / "db" / "topex.db") as opened:
        yield opened


@pytest.fixture()
def run_id(store: Store, tmp_path: Path) -> int:
    return store.register_run(fake_run(tmp_path / "run"))


def add(store: Store, run_id: int, n: int = 3) -> list[int]:
    return store.add_candidates(run_id, [
        Candidate(text=f"refund the express fee {i}", label="shipping", backend="eda",
                  target=RegionRef("cluster", "4"), sampling={"temperature": 0.7}, seed=i,
                  mix_ratio=0.5)
        for i in range(n)])


def test_register_is_idempotent_and_pragmas_are_set(store: Store, run_id: int,
                                                    tmp_path: Path) -> None:
    assert store.register_run(tmp_path / "run") == run_id
    assert store.schema_version == SCHEMA_VERSION
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store._db.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_decisions_edits_relabels_and_undo(store: Store, run_id: int) -> None:
    first, second, third = add(store, run_id)
    store.decide(first, "edit", text="refund the late express fee")
    store.decide(first, "accept")
    store.decide(second, "relabel", label="billing")
    store.decide(second, "accept")
    store.decide(third, "reject")
    table = store.candidates(run_id).set_index("id")
    assert table.loc[first, "text"] == "refund the late express fee"
    assert table.loc[first, "original_text"] == "refund the express fee 0"
    assert table.loc[second, ["label", "original_label"]].tolist() == ["billing", "shipping"]
    assert table["status"].tolist() == ["accepted", "accepted", "rejected"]
    store.undo(second)  # undoes the accept; the relabel stays
    table = store.candidates(run_id).set_index("id")
    assert table.loc[second, ["status", "label"]].tolist() == ["pending", "billing"]
    assert store.accepted(run_id)["id"].tolist() == [first]
    # the same as typed records, for the pages
    vetted = {candidate.id: candidate for candidate in store.vetted(run_id)}
    assert vetted[first].text == "refund the late express fee" and vetted[first].decided
    assert vetted[second].label == "billing" and vetted[second].status == "pending"
    assert vetted[second].decided  # relabelled
    assert vetted[third].target == RegionRef("cluster", "4")
    assert vetted[third].lineage == {"temperature": 0.7} and vetted[third].source_id is None
    assert vetted[third].made_by == "eda" and vetted[third].checks.passed
    assert [c.id for c in store.vetted(run_id, target=RegionRef("slice", "x"))] == []
    rewrite = store.add_candidates(run_id, [Candidate(
        text="a rewrite", label="shipping", backend="openai", model="m",
        sampling={"mode": "rewrite", "source_id": 7})])[0]
    fresh = store.vetted(run_id)[-1]
    assert (fresh.id, fresh.source_id, fresh.made_by) == (rewrite, 7, "openai (m)")
    assert fresh.target is None and not fresh.decided


@pytest.mark.parametrize(("call", "message"), [
    (lambda s, ids: s.decide(999, "accept"), "unknown candidate id 999"),
    (lambda s, ids: s.decide(ids[0], "maybe"), "unknown action 'maybe'; choose one of"),
    (lambda s, ids: s.decide(ids[0], "edit", text="  "), "needs the new, non-empty text"),
    (lambda s, ids: s.decide(ids[0], "relabel", label="tech"), "not one of the run's labels"),
    (lambda s, ids: s.undo(ids[0]), "has no decision to undo"),
])
def test_bad_decisions_are_refused_and_write_nothing(store: Store, run_id: int, call,
                                                     message: str) -> None:
    ids = add(store, run_id)
    with pytest.raises(StoreError, match=message):
        call(store, ids)
    assert decisions_in(store) == 0


def test_candidates_with_unknown_label_are_refused_whole(store: Store, run_id: int) -> None:
    with pytest.raises(StoreError, match="label 'tech' is not one of the run's labels"):
        store.add_candidates(run_id, [Candidate("ok", "billing", "eda"),
                                      Candidate("bad", "tech", "eda")])
    assert store.candidates(run_id).empty


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_export_round_trip(store: Store, run_id: int, tmp_path: Path, fmt: str) -> None:
    ids = add(store, run_id)
    store.decide(ids[1], "accept")
    path = export_samples(store.accepted(run_id), tmp_path / f"accepted.{fmt}", fmt)
    exported = read_table(path)
    assert exported[["text", "label", "backend"]].values.tolist() == [
        ["refund the express fee 1", "shipping", "eda"]]


def test_export_errors(store: Store, run_id: int, tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot write the export"):
        export_samples(store.accepted(run_id), blocker / "out.csv", "csv")
    with pytest.raises(StoreError, match="unknown format 'xlsx'"):
        export_samples(store.accepted(run_id), tmp_path / "a.xlsx", "xlsx")


def test_training_rounds_are_kept(store: Store, run_id: int) -> None:
    ids = add(store, run_id)
    round_id = store.add_training_round(run_id, ids[:2], "/runs/r/rounds/1", None)
    stored = store.training_rounds(run_id)[0]
    assert (stored.id, stored.candidate_ids) == (round_id, ids[:2])
    assert stored.round_dir == "/runs/r/rounds/1" and stored.earlier_record is None


def test_older_schema_migrates_and_keeps_data(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = sqlite3.connect(path)
    old.executescript(MIGRATIONS[0])
    old.execute("INSERT INTO datasets VALUES (1, 'h', 's', 'text', NULL, 'label', 2, 0)")
    old.execute("INSERT INTO runs VALUES (1, '/r', 1, '[\"a\", \"b\"]', '{}', '{}', '{}', 'm', '',"
                " 0)")
    old.execute("INSERT INTO candidates (run_id, text, label, backend, sampling, checks,"
                " created_at) VALUES (1, 'kept', 'a', 'eda', '{}', '{}', 0)")
    old.execute("PRAGMA user_version=1")
    old.commit()
    old.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION
        table = store.candidates(1)
        assert table["text"].tolist() == ["kept"] and table["mix_ratio"].isna().all()
        assert table["target"].tolist() == ["—"]


def store_at_version(path: Path, version: int) -> sqlite3.Connection:
    """A database as schema ``version`` left it, holding one dataset and one run (id 1)."""
    old = sqlite3.connect(path)
    for script in MIGRATIONS[:version]:
        old.executescript(script)
    old.execute("INSERT INTO datasets VALUES (1, 'h', 's', 'text', NULL, 'label', 2, 0)")
    old.execute("INSERT INTO runs (id, run_dir, dataset_id, label_names, config, versions,"
                " timings, model_path, model_sha256, created_at) VALUES (1, '/r', 1,"
                " '[\"a\", \"b\"]', '{}', '{}', '{}', 'm', '', 0)")
    return old


def test_cluster_and_slice_targets_move_into_target_kind_and_key(tmp_path: Path) -> None:
    path = tmp_path / "v4.db"
    old = store_at_version(path, 4)
    for cluster, slice_key in ((3, None), (None, "oil | a"), (None, None)):
        old.execute("INSERT INTO candidates (run_id, cluster, slice, text, label, backend,"
                    " sampling, checks, created_at) VALUES (1, ?, ?, 't', 'a', 'eda', '{}',"
                    " '{}', 0)", (cluster, slice_key))
    old.execute("PRAGMA user_version=4")
    old.commit()
    old.close()
    with Store(path) as store:
        table = store.candidates(1)
        assert table["target"].tolist() == ["cluster 3", "slice oil | a", "—"]
        assert candidate_targets(table) == [RegionRef("cluster", "3"),
                                            RegionRef("slice", "oil | a")]
        assert len(store.candidates(1, target=RegionRef("slice", "oil | a"))) == 1
        columns = {row[1] for row in store._db.execute("PRAGMA table_info(candidates)")}
        assert {"target_kind", "target_key"} <= columns and not {"cluster", "slice"} & columns
        tables = {row[0] for row in store._db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "clusters" not in tables  # nothing ever wrote it


def test_a_store_that_kept_rounds_itself_keeps_them_beside_the_folder(tmp_path: Path) -> None:
    path = tmp_path / "v5.db"
    old = store_at_version(path, 5)
    old.execute("INSERT INTO training_rounds (run_id, candidate_ids, config, metrics,"
                " model_path, created_at) VALUES (1, '[4, 5]', '{\"mode\": \"head\","
                " \"round_dir\": \"/r/rounds/1\"}', '{\"fixed\": 3}', NULL, 7)")
    old.execute("PRAGMA user_version=5")
    old.commit()
    old.close()
    with Store(path) as store:
        stored = store.training_rounds(1)[0]
        assert stored.candidate_ids == [4, 5] and stored.round_dir == "/r/rounds/1"
        assert stored.earlier_record == {"config": {"mode": "head", "round_dir": "/r/rounds/1"},
                                         "metrics": {"fixed": 3}}
        columns = {row[1] for row in store._db.execute("PRAGMA table_info(training_rounds)")}
        assert not {"config", "metrics"} & columns  # the round's record is round.json


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    sqlite3.connect(path).execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this TopEx"):
        Store(path)


def worker(db: Path, ids: list[int], count: int, actor: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, WORKER, str(db), ",".join(map(str, ids)),
                             str(count), actor], stdout=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": ROOT})


def test_sigkill_loses_no_confirmed_decision(store: Store, run_id: int) -> None:
    ids = add(store, run_id, 10)
    process = worker(store.path, ids, 1000, "crash")
    confirmed = [int(process.stdout.readline()) for _ in range(100)]
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with Store(store.path) as reopened:
        assert reopened._db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        stored = {row[0]: row for row in reopened._db.execute(
            "SELECT id, action, actor, created_at FROM decisions")}
        assert set(confirmed) <= set(stored)
        assert 100 <= len(stored) < 1000
        assert all(row[1] in ("accept", "reject") and row[2] == "crash" and row[3]
                   for row in stored.values())


def test_two_writers_lose_and_duplicate_nothing(store: Store, run_id: int) -> None:
    ids = add(store, run_id, 5)
    first, second = worker(store.path, ids, 200, "tab-1"), worker(store.path, ids, 200, "tab-2")
    outputs = [process.communicate(timeout=120)[0].split() for process in (first, second)]
    assert first.returncode == second.returncode == 0
    returned = [int(i) for output in outputs for i in output]
    assert len(returned) == len(set(returned)) == 400
    frame = pd.read_sql_query("SELECT id, actor FROM decisions", store._db)
    assert sorted(frame["id"]) == sorted(returned)
    assert frame["actor"].value_counts().to_dict() == {"tab-1": 200, "tab-2": 200}


def test_bulk_decisions_are_all_or_nothing_and_undo_as_one(store: Store, run_id: int) -> None:
    ids = add(store, run_id)
    before = decisions_in(store)
    with pytest.raises(StoreError, match="unknown candidate id 999"):
        store.decide_many([ids[0], 999, ids[1]], "accept")
    assert decisions_in(store) == before  # the valid ids were not half-decided
    with pytest.raises(StoreError, match="not 'edit'"):
        store.decide_many(ids, "edit")
    decisions = store.decide_many([ids[0], ids[1], ids[0]], "accept", actor="bulk")
    assert len(decisions) == 2
    store.decide(ids[1], "reject")  # a later single decision on one of them
    assert store.undo_decisions(decisions + decisions) == 2
    states = store.candidates(run_id).set_index("id")["status"]
    assert states[ids[0]] == "pending" and states[ids[1]] == "rejected"
    assert store.undo_decisions(decisions) == 0
    with pytest.raises(StoreError, match="unknown decision id 12345"):
        store.undo_decisions([12345])


def test_export_whole_run(store: Store, run_id: int, tmp_path: Path) -> None:
    ids = add(store, run_id)
    store.decide(ids[0], "accept")
    out = export_run(store, tmp_path / "run", tmp_path / "exported")
    assert (out / "run.json").is_file() and (out / "model" / "model.safetensors").is_file()
    assert pd.read_parquet(out / "candidates.parquet")["status"].tolist()[0] == "accepted"
    with pytest.raises(StoreError, match="already exists"):
        export_run(store, tmp_path / "run", out)


def test_cli_decide_and_export(store: Store, run_id: int, tmp_path: Path, capsys) -> None:
    import json

    from topex_core.cli.main import main

    ids = add(store, run_id)
    run, db = str(tmp_path / "run"), str(store.path)
    assert main(["decide", "--run", run, "--candidate", str(ids[0]), "--edit", "new text",
                 "--db", db]) == 0
    assert main(["decide", "--run", run, "--candidate", str(ids[0]), "--accept", "--db", db]) == 0
    assert json.loads(capsys.readouterr().out.splitlines()[-1])["action"] == "accept"
    assert main(["export", "--run", run, "--accepted", "--format", "jsonl",
                 "--out", str(tmp_path / "a.jsonl"), "--db", db]) == 0
    assert read_table(tmp_path / "a.jsonl")["text"].tolist() == ["new text"]
    capsys.readouterr()
    assert main(["decide", "--run", run, "--candidate", str(ids[1]), str(ids[2]), "--reject",
                 "--db", db]) == 0
    assert len(json.loads(capsys.readouterr().out)["decisions"]) == 2
    assert main(["decide", "--run", run, "--candidate", str(ids[1]), str(ids[2]), "--edit",
                 "x", "--db", db]) == 2
    assert "--edit takes one --candidate" in capsys.readouterr().err
    assert main(["decide", "--run", run, "--candidate", str(ids[1]), "--edit", "",
                 "--db", db]) == 2
    assert "an edit needs the new, non-empty text" in capsys.readouterr().err
    assert main(["decide", "--run", run, "--candidate", "999", "--reject", "--db", db]) == 2
    assert capsys.readouterr().err.strip() == "topex: error: unknown candidate id 999"
    assert main(["decide", "--run", str(tmp_path), "--candidate", "1", "--reject",
                 "--db", db]) == 2
    assert "not a TopEx run directory" in capsys.readouterr().err


def test_a_file_that_is_not_a_database_is_a_clear_error(tmp_path: Path) -> None:
    junk = tmp_path / "topex.db"
    junk.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a TopEx store, or corrupt"):
        Store(junk)
    assert junk.read_bytes() == b"this is not sqlite" * 100


def test_a_moved_run_folder_keeps_its_candidates(store: Store, run_id: int,
                                                 tmp_path: Path) -> None:
    ids = add(store, run_id)
    store.decide(ids[0], "accept")
    moved = tmp_path / "elsewhere" / "renamed"
    moved.parent.mkdir()
    (tmp_path / "run").rename(moved)
    assert store.register_run(moved) == run_id
    assert store.run_id(moved) == run_id
    assert store.accepted(run_id)["id"].tolist() == [ids[0]]


def test_a_new_run_in_the_same_folder_does_not_inherit_candidates(store: Store, run_id: int,
                                                                  tmp_path: Path) -> None:
    """A folder trained again (another run id) is another run; the first keeps its own."""
    import shutil

    add(store, run_id)
    shutil.rmtree(tmp_path / "run")
    fake_run(tmp_path / "run")
    second = store.register_run(tmp_path / "run")
    assert second != run_id and store.candidates(second).empty
    assert len(store.candidates(run_id)) == 3


def test_a_run_from_before_run_ids_gets_one_and_keeps_its_candidates(tmp_path: Path) -> None:
    """Stores and runs written by earlier versions: the run is found by its path once,
    given an id, and found by that id after a move."""
    import json

    run = fake_run(tmp_path / "run")
    record = json.loads((run / "run.json").read_text())
    del record["run_id"]
    (run / "run.json").write_text(json.dumps(record))
    db = tmp_path / "old.db"
    with sqlite3.connect(db) as old:
        for number in range(2):
            old.executescript(MIGRATIONS[number])
        old.execute("PRAGMA user_version=2")
        old.execute("INSERT INTO datasets (id, content_hash, source, text_col, label_col, rows,"
                    " created_at) VALUES (1, 'abc', 'x.csv', 'text', 'label', 2, 0)")
        old.execute("INSERT INTO runs (id, run_dir, dataset_id, label_names, config, versions,"
                    " timings, model_path, model_sha256, created_at) VALUES (7, ?, 1,"
                    " '[\"billing\", \"shipping\"]', '{}', '{}', '{}', '', '', 0)",
                    (str(run.resolve()),))
        old.execute("INSERT INTO candidates (run_id, text, label, backend, sampling, checks,"
                    " created_at) VALUES (7, 'old text', 'billing', 'eda', '{}', '{}', 0)")
    with Store(db) as store:
        assert store.register_run(run) == 7
        assert json.loads((run / "run.json").read_text())["run_id"]
        moved = tmp_path / "moved"
        run.rename(moved)
        assert store.run_id(moved) == 7
        assert store.candidates(7)["text"].tolist() == ["old text"]


def test_history_undoes_and_redoes_single_and_bulk_steps(store: Store, run_id: int) -> None:
    """A bulk accept, then one reject: undo both in turn, redo both, and a new step clears
    what could be redone; each redo is a new decision (the log stays append-only)."""
    from topex_core.storage.history import DecisionHistory

    ids = add(store, run_id, 4)

    def statuses() -> list[str]:
        return store.candidates(run_id)["status"].tolist()

    history = DecisionHistory()
    bulk = history.decide_many(store, ids[:3], "accept")
    history.decide(store, ids[0], "reject")
    assert bulk.summary == "accepted 3" and history.done[-1].summary == f"rejected #{ids[0]}"
    assert statuses() == ["rejected", "accepted", "accepted", "pending"]
    assert history.undo(store).summary == f"rejected #{ids[0]}"
    assert statuses() == ["accepted", "accepted", "accepted", "pending"]
    assert history.undo(store) is not None and history.undo(store) is None
    assert statuses() == ["pending"] * 4
    assert history.redo(store).summary == "accepted 3"
    assert statuses() == ["accepted", "accepted", "accepted", "pending"]
    redone = history.redo(store)
    assert statuses() == ["rejected", "accepted", "accepted", "pending"]
    assert redone.decision_ids[0] > bulk.decision_ids[-1]  # a new decision
    assert history.undo(store) == redone and history.undone == [redone]
    history.decide(store, ids[3], "accept")
    assert history.undone == [] and history.redo(store) is None
    assert statuses() == ["accepted", "accepted", "accepted", "accepted"]
    with pytest.raises(StoreError, match="is in effect"):  # the redone bulk accept
        store.redo_decisions(list(history.done[0].decision_ids))
    with pytest.raises(StoreError, match="unknown decision id"):
        store.redo_decisions([99_999])
