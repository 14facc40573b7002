"""The durable store: runs, candidates and vetting decisions in SQLite.

One database file, ``$TOPEX_HOME/topex.db`` by default, opened in WAL mode with foreign
keys on and ``synchronous=FULL``: a decision is committed to disk before ``decide``
returns, so a confirmed decision survives a crash or a SIGKILL, and readers (a second
browser tab) never block writers. Write transactions start with ``BEGIN IMMEDIATE`` and
wait up to ``BUSY_TIMEOUT_MS`` for another writer, so two tabs deciding at once lose
nothing. The schema is versioned with ``PRAGMA user_version`` and migrated forward on open.

Decisions are append-only: the effective state of a candidate is its latest decision that
has not been undone; an edit keeps the candidate's original text and stores the edited
text in the decision. Large artefacts (models, logits, maps) stay files in the run
directory and are referenced by path and SHA-256.

PostgreSQL is not supported: the store uses the standard library's sqlite3, not
SQLAlchemy (the issue left the choice open); one SQLite file serves one machine.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from topex_core.config import topex_home
from topex_core.errors import TopexError
from topex_core.region_ref import RegionRef
from topex_core.rundir import MODEL_DIR, MODEL_WEIGHTS, ensure_run_id, read_run
from topex_core.storage.candidates import (
    Candidate,
    VettedCandidate,
    effective_state,
)
from topex_core.storage.schema import MIGRATIONS, SCHEMA_VERSION, statements

ACTIONS = ("accept", "reject", "edit", "relabel")
BULK_ACTIONS = ("accept", "reject")
BUSY_TIMEOUT_MS = 30_000
DB_FILE = "topex.db"


class StoreError(TopexError):
    """An id, action or path the store cannot use; nothing was written."""


@dataclass(frozen=True)
class StoredRound:
    """A training round as the store notes it: the candidates it trained on and its folder
    (``round_dir``, whose round.json is the round's one record). ``earlier_record``: the
    config and metrics a store kept itself before schema 6, None since."""

    id: int
    candidate_ids: list[int]
    round_dir: str | None
    model_path: str | None
    created_at: float
    earlier_record: dict | None = None


def default_db_path() -> Path:
    return topex_home() / DB_FILE


class Store:
    """A connection to the store; open one per thread or process."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else default_db_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       timeout=BUSY_TIMEOUT_MS / 1000)
        except (OSError, sqlite3.Error) as error:
            raise StoreError(f"{self.path}: cannot open the store ({error})") from None
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
            self._migrate()
        except sqlite3.DatabaseError as error:
            self._db.close()
            raise StoreError(f"{self.path}: not a TopEx store, or corrupt ({error})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: committed on success, rolled back on any error."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def _migrate(self) -> None:
        version = self.schema_version
        if version > SCHEMA_VERSION:
            raise StoreError(f"{self.path}: schema version {version} is newer than this "
                             f"TopEx ({SCHEMA_VERSION}); upgrade TopEx")
        for number in range(version, SCHEMA_VERSION):
            with self._write() as db:
                for statement in statements(MIGRATIONS[number]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version={number + 1}")

    # runs -----------------------------------------------------------------------------

    def register_run(self, run_dir: Path | str) -> int:
        """The store's id of the run in ``run_dir``, registering it (and its dataset) if
        new. Runs are known by the run id in their run.json, so a run folder that was moved
        or renamed keeps its candidates; the store then notes where it now lives."""
        run_dir = Path(run_dir).resolve()
        run_key = ensure_run_id(run_dir)
        existing = self._db.execute("SELECT id, run_dir, run_key FROM runs WHERE run_key = ?",
                                    (run_key,)).fetchone()
        if existing is None:  # a run registered before run ids, still where it was
            existing = self._db.execute("SELECT id, run_dir, run_key FROM runs WHERE"
                                        " run_dir = ? AND run_key IS NULL",
                                        (str(run_dir),)).fetchone()
        if existing is not None:
            if existing["run_dir"] != str(run_dir) or existing["run_key"] is None:
                with self._write() as db:
                    _release_path(db, run_dir, keep=int(existing["id"]))
                    db.execute("UPDATE runs SET run_key = ?, run_dir = ?, model_path = ?"
                               " WHERE id = ?", (run_key, str(run_dir),
                                                 str(run_dir / MODEL_DIR / MODEL_WEIGHTS),
                                                 existing["id"]))
            return int(existing["id"])
        return self._insert_run(run_dir, run_key)

    def _insert_run(self, run_dir: Path, run_key: str) -> int:
        record = read_run(run_dir)
        model_path = run_dir / MODEL_DIR / MODEL_WEIGHTS
        digest = file_sha256(model_path) if model_path.is_file() else ""
        dataset = record.dataset
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO datasets (content_hash, source, text_col, text_pair_col,"
                " label_col, rows, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset.content_hash, dataset.source, dataset.text_col,
                 dataset.text_pair_col, dataset.label_col, dataset.rows, time.time()))
            dataset_id = db.execute("SELECT id FROM datasets WHERE content_hash = ?",
                                    (dataset.content_hash,)).fetchone()["id"]
            _release_path(db, run_dir, keep=None)
            cursor = db.execute(
                "INSERT INTO runs (run_key, run_dir, dataset_id, label_names, config, versions,"
                " timings, model_path, model_sha256, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_key, str(run_dir), dataset_id, json.dumps(record.label_names),
                 json.dumps(record.config.to_json()), json.dumps(record.versions),
                 json.dumps(record.timings_s), str(model_path), digest, time.time()))
            return int(cursor.lastrowid)

    def run_id(self, run_dir: Path | str) -> int:
        """The store's id of an already registered run; StoreError when unknown."""
        run_key = ensure_run_id(Path(run_dir))
        row = self._db.execute("SELECT id FROM runs WHERE run_key = ?", (run_key,)).fetchone()
        if row is None:
            raise StoreError(f"{run_dir}: this run has no candidates in the store yet")
        return int(row["id"])

    def label_names(self, run_id: int) -> list[str]:
        row = self._db.execute("SELECT label_names FROM runs WHERE id = ?",
                               (run_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown run id {run_id}")
        return json.loads(row["label_names"])

    # candidates and decisions ---------------------------------------------------------

    def add_candidates(self, run_id: int, candidates: Sequence[Candidate]) -> list[int]:
        """Store candidates in one transaction; returns their ids in order."""
        labels = set(self.label_names(run_id))
        for candidate in candidates:
            if candidate.label not in labels:
                raise StoreError(f"label '{candidate.label}' is not one of the run's labels: "
                                 f"{', '.join(sorted(labels))}")
            if not candidate.text.strip():
                raise StoreError("a candidate's text is empty")
        now = time.time()
        with self._write() as db:
            return [int(db.execute(
                "INSERT INTO candidates (run_id, target_kind, target_key, text, text_pair, label,"
                " backend, model, prompt, sampling, seed, checks, mix_ratio, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (run_id, c.target.kind if c.target else None,
                 c.target.key if c.target else None, c.text, c.text_pair, c.label, c.backend,
                 c.model,
                 c.prompt, json.dumps(c.sampling or {}), c.seed,
                 json.dumps(c.checks.to_json() if c.checks else {}),
                 c.mix_ratio, now)).lastrowid) for c in candidates]

    def decide(self, candidate_id: int, action: str, *, text: str | None = None,
               label: str | None = None, actor: str = "analyst") -> int:
        """Record a decision; returns its id once it is committed to disk."""
        if action not in ACTIONS:
            raise StoreError(f"unknown action '{action}'; choose one of {', '.join(ACTIONS)}")
        candidate = self._live_candidate(candidate_id)
        if action == "edit" and not (text and text.strip()):
            raise StoreError("an edit needs the new, non-empty text")
        if action == "relabel":
            labels = self.label_names(candidate["run_id"])
            if label not in labels:
                raise StoreError(f"label '{label}' is not one of the run's labels: "
                                 f"{', '.join(labels)}")
        with self._write() as db:
            return _insert_decision(db, candidate_id, action, actor, time.time(),
                                    text=text if action == "edit" else None,
                                    label=label if action == "relabel" else None)

    def decide_many(self, candidate_ids: Sequence[int], action: str, *,
                    actor: str = "analyst") -> list[int]:
        """Accept or reject several candidates in one transaction: every decision is
        committed or none is. Returns the decision ids in the order of ``candidate_ids``
        (repeated ids are decided once)."""
        if action not in BULK_ACTIONS:
            raise StoreError(f"only {' and '.join(BULK_ACTIONS)} apply to several candidates "
                             f"at once, not '{action}'")
        now = time.time()
        decision_ids = []
        with self._write() as db:
            for candidate_id in dict.fromkeys(int(candidate_id) for candidate_id in candidate_ids):
                self._live_candidate(candidate_id)
                decision_ids.append(_insert_decision(db, candidate_id, action, actor, now))
        return decision_ids

    def undo_decisions(self, decision_ids: Sequence[int]) -> int:
        """Undo these decisions (one bulk action, say) in one transaction; returns how many
        were still in effect. Later decisions on the same candidates stay in effect."""
        now = time.time()
        undone = 0
        with self._write() as db:
            for decision_id in dict.fromkeys(int(decision_id) for decision_id in decision_ids):
                if db.execute("SELECT 1 FROM decisions WHERE id = ?",
                              (decision_id,)).fetchone() is None:
                    raise StoreError(f"unknown decision id {decision_id}")
                undone += db.execute("UPDATE decisions SET undone_at = ? WHERE id = ? AND"
                                     " undone_at IS NULL", (now, decision_id)).rowcount
        return undone

    def redo_decisions(self, decision_ids: Sequence[int]) -> list[int]:
        """Decide again what undone decisions decided, in one transaction: each is copied
        into a new decision (the log stays append-only, and the copy is the latest, so it
        takes effect). Returns the new decision ids in order; nothing is written when one
        id is unknown or still in effect."""
        now = time.time()
        redone = []
        with self._write() as db:
            for decision_id in dict.fromkeys(int(decision_id) for decision_id in decision_ids):
                row = db.execute("SELECT * FROM decisions WHERE id = ?",
                                 (decision_id,)).fetchone()
                if row is None:
                    raise StoreError(f"unknown decision id {decision_id}")
                if row["undone_at"] is None:
                    raise StoreError(f"decision {decision_id} is in effect: nothing to redo")
                self._live_candidate(row["candidate_id"])
                redone.append(_insert_decision(db, row["candidate_id"], row["action"],
                                               row["actor"], now, text=row["text"],
                                               label=row["label"]))
        return redone

    def undo(self, candidate_id: int) -> int:
        """Undo the candidate's latest effective decision; returns the undone decision's id."""
        self._live_candidate(candidate_id)
        with self._write() as db:
            row = db.execute("SELECT id FROM decisions WHERE candidate_id = ? AND undone_at IS"
                             " NULL ORDER BY id DESC LIMIT 1", (candidate_id,)).fetchone()
            if row is None:
                raise StoreError(f"candidate {candidate_id} has no decision to undo")
            db.execute("UPDATE decisions SET undone_at = ? WHERE id = ?", (time.time(), row["id"]))
            return int(row["id"])

    def candidates(self, run_id: int, *, target: RegionRef | None = None) -> pd.DataFrame:
        """Live candidates with their effective state, of one target region when given.

        Columns: id, target_kind, target_key, target (``target_name``), original_text,
        text (after edits), text_pair, original_label, label (after relabels), status
        (pending, accepted, rejected), backend, model, prompt, sampling, seed, checks (a
        ``CandidateChecks``), mix_ratio, created_at.
        """
        query = "SELECT * FROM candidates WHERE run_id = ? AND deleted_at IS NULL"
        parameters: list = [run_id]
        if target is not None:
            query += " AND target_kind = ? AND target_key = ?"
            parameters += [target.kind, target.key]
        frame = pd.read_sql_query(query + " ORDER BY id", self._db, params=parameters)
        decisions = pd.read_sql_query(
            "SELECT d.* FROM decisions d JOIN candidates c ON c.id = d.candidate_id"
            " WHERE c.run_id = ? AND d.undone_at IS NULL ORDER BY d.id", self._db,
            params=[run_id])
        return effective_state(frame, decisions)

    def vetted(self, run_id: int, *, target: RegionRef | None = None
               ) -> list[VettedCandidate]:
        """The live candidates (of one target region when given) as typed records, in the
        order they were stored."""
        return [VettedCandidate(
            id=int(row["id"]), target=RegionRef.optional(row["target_kind"], row["target_key"]),
            original_text=row["original_text"], text=row["text"],
            text_pair=row["text_pair"] if isinstance(row["text_pair"], str) else None,
            original_label=row["original_label"], label=row["label"], status=row["status"],
            backend=row["backend"],
            model=row["model"] if isinstance(row["model"], str) else None,
            lineage=json.loads(row["sampling"] or "{}"), checks=row["checks"])
            for row in self.candidates(run_id, target=target).to_dict("records")]

    def accepted(self, run_id: int) -> pd.DataFrame:
        """Accepted candidates (edits and relabels applied) with lineage columns."""
        frame = self.candidates(run_id)
        return frame[frame["status"] == "accepted"].reset_index(drop=True)

    def _live_candidate(self, candidate_id: int) -> sqlite3.Row:
        row = self._db.execute("SELECT * FROM candidates WHERE id = ?",
                               (candidate_id,)).fetchone()
        if row is None:
            raise StoreError(f"unknown candidate id {candidate_id}")
        if row["deleted_at"] is not None:
            raise StoreError(f"candidate {candidate_id} was deleted; it cannot be decided on")
        return row

    # training rounds --------------------------------------------------------------------

    def add_training_round(self, run_id: int, candidate_ids: Sequence[int], round_dir: str,
                           model_path: str | None) -> int:
        """Note a round: the candidates it trained on and its folder, where round.json
        holds everything else (``rounddir``)."""
        self.label_names(run_id)
        with self._write() as db:
            return int(db.execute(
                "INSERT INTO training_rounds (run_id, candidate_ids, round_dir, model_path,"
                " created_at) VALUES (?, ?, ?, ?, ?)",
                (run_id, json.dumps(list(candidate_ids)), round_dir, model_path,
                 time.time())).lastrowid)

    def training_rounds(self, run_id: int) -> list[StoredRound]:
        rows = self._db.execute("SELECT * FROM training_rounds WHERE run_id = ? ORDER BY id",
                                (run_id,)).fetchall()
        return [StoredRound(id=row["id"], candidate_ids=json.loads(row["candidate_ids"]),
                            round_dir=row["round_dir"], model_path=row["model_path"],
                            created_at=row["created_at"],
                            earlier_record=json.loads(row["earlier_record"] or "null"))
                for row in rows]


def _insert_decision(db: sqlite3.Connection, candidate_id: int, action: str, actor: str,
                     created_at: float, *, text: str | None = None,
                     label: str | None = None) -> int:
    """One row of the append-only decisions table, inside the caller's transaction."""
    return int(db.execute(
        "INSERT INTO decisions (candidate_id, action, text, label, actor, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        (candidate_id, action, text, label, actor, created_at)).lastrowid)


def _release_path(db: sqlite3.Connection, run_dir: Path, *, keep: int | None) -> None:
    """Another run registered at ``run_dir`` no longer lives there (its folder was moved
    or replaced): keep its row and candidates, under a path that names what happened."""
    db.execute("UPDATE runs SET run_dir = run_dir || ' (moved away; run ' || COALESCE(run_key,"
               " id) || ')' WHERE run_dir = ? AND id IS NOT ?", (str(run_dir), keep))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
