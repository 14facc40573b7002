"""The store's SQLite schema as numbered migrations, applied in order on open.

``PRAGMA user_version`` holds how many have been applied; a database newer than this
TopEx is refused rather than guessed at.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: the initial schema
    """
    CREATE TABLE datasets (
        id INTEGER PRIMARY KEY, content_hash TEXT NOT NULL UNIQUE, source TEXT NOT NULL,
        text_col TEXT NOT NULL, text_pair_col TEXT, label_col TEXT NOT NULL,
        rows INTEGER NOT NULL, created_at REAL NOT NULL);
    CREATE TABLE runs (
        id INTEGER PRIMARY KEY, run_dir TEXT NOT NULL UNIQUE,
        dataset_id INTEGER NOT NULL REFERENCES datasets(id),
        label_names TEXT NOT NULL, config TEXT NOT NULL, versions TEXT NOT NULL,
        timings TEXT NOT NULL, model_path TEXT NOT NULL, model_sha256 TEXT NOT NULL,
        created_at REAL NOT NULL);
    CREATE TABLE clusters (
        id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        cluster INTEGER NOT NULL, name TEXT NOT NULL, words TEXT NOT NULL,
        scores TEXT NOT NULL, UNIQUE (run_id, cluster));
    CREATE TABLE candidates (
        id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        cluster INTEGER, text TEXT NOT NULL, text_pair TEXT, label TEXT NOT NULL,
        backend TEXT NOT NULL, model TEXT, prompt TEXT, sampling TEXT NOT NULL,
        seed INTEGER, checks TEXT NOT NULL, created_at REAL NOT NULL, deleted_at REAL);
    CREATE TABLE decisions (
        id INTEGER PRIMARY KEY,
        candidate_id INTEGER NOT NULL REFERENCES candidates(id) ON DELETE CASCADE,
        action TEXT NOT NULL CHECK (action IN ('accept', 'reject', 'edit', 'relabel')),
        text TEXT, text_pair TEXT, label TEXT, actor TEXT NOT NULL, created_at REAL NOT NULL,
        undone_at REAL);
    CREATE TABLE training_rounds (
        id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        candidate_ids TEXT NOT NULL, config TEXT NOT NULL, metrics TEXT NOT NULL,
        model_path TEXT, created_at REAL NOT NULL);
    """,
    # 2: the mixing ratio of mixup-directed generation, and the lookups vetting needs
    """
    ALTER TABLE candidates ADD COLUMN mix_ratio REAL;
    CREATE INDEX decisions_by_candidate ON decisions (candidate_id, id);
    CREATE INDEX candidates_by_run ON candidates (run_id, cluster);
    """,
    # 3: runs keyed by the run id in run.json, so a moved or renamed run folder keeps its
    # candidates; run_dir is where the run was last seen
    """
    ALTER TABLE runs ADD COLUMN run_key TEXT;
    CREATE UNIQUE INDEX runs_by_key ON runs (run_key);
    """,
    # 4: a candidate's target is an error cluster or an error slice (its key in slices.csv)
    """
    ALTER TABLE candidates ADD COLUMN slice TEXT;
    """,
    # 5: a candidate's target is any region, by kind and key (``region_ref.RegionRef``);
    # the cluster and slice columns move into them, and the clusters table, which nothing
    # wrote, goes
    """
    ALTER TABLE candidates ADD COLUMN target_kind TEXT;
    ALTER TABLE candidates ADD COLUMN target_key TEXT;
    UPDATE candidates SET target_kind = 'slice', target_key = slice WHERE slice IS NOT NULL;
    UPDATE candidates SET target_kind = 'cluster', target_key = CAST(cluster AS TEXT)
        WHERE slice IS NULL AND cluster IS NOT NULL;
    DROP INDEX candidates_by_run;
    ALTER TABLE candidates DROP COLUMN cluster;
    ALTER TABLE candidates DROP COLUMN slice;
    CREATE INDEX candidates_by_run ON candidates (run_id, target_kind, target_key);
    DROP TABLE clusters;
    """,
    # 6: a round is recorded once, in its folder (rounds/N/round.json); the store keeps
    # which candidates it trained on and where it lies. Earlier rounds' config and metrics
    # stay, as they were, in earlier_record
    """
    CREATE TABLE rounds_by_folder (
        id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
        candidate_ids TEXT NOT NULL, round_dir TEXT, model_path TEXT,
        created_at REAL NOT NULL, earlier_record TEXT);
    INSERT INTO rounds_by_folder SELECT id, run_id, candidate_ids,
        json_extract(config, '$.round_dir'), model_path, created_at,
        json_object('config', json(config), 'metrics', json(metrics)) FROM training_rounds;
    DROP TABLE training_rounds;
    ALTER TABLE rounds_by_folder RENAME TO training_rounds;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]
