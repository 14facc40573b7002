"""Predictions made elsewhere, imported as a run (``topex import-predictions``).

The table holds the text (and pair) column, the label column and one score column per
class: ``logit_<label>`` (raw scores) or ``prob_<label>`` (probabilities, each row summing
to 1 within ``PROB_TOLERANCE``). Probabilities become log-probabilities,
``log(max(p, PROB_FLOOR))`` after renormalising each row, so that a softmax gives the
probabilities back and the explorer reads them like logits (it rescales each dimension
to [-1, 1]). The run directory is that of a trained run without ``model/``: logits and
points for the pool and the test split (a file, or a stratified share held out of the
table), ``run.json`` with ``config.imported`` = ``"logit"`` or ``"prob"``, no rows in
training, and the ``train_size`` that retraining fine-tunes a backbone on. Everything
that reads logits works on it; what needs a classifier (the prediction check, head
retraining) says so (``rundir.has_classifier``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.config import TOPEX_VERSION
from topex_core.data.dataset import TextDataset, dataset_from_frame, read_table
from topex_core.data.split import DEFAULT_TEST_SIZE, SPLIT_SEED, check_test_size, hold_out
from topex_core.errors import DataError, RunError
from topex_core.records import HeldOut, RunRecord
from topex_core.rundir import (
    RUN_FILE,
    new_run_id,
    read_run,
    write_logits,
    write_points,
    write_run,
)
from topex_core.train_config import RunConfig
from topex_core.training.run import (
    accuracy,
    data_warnings,
    dataset_record,
    package_versions,
    points_frame,
    prepare_out_dir,
)

SCORE_PREFIXES = {"logit": "logit_", "prob": "prob_"}
PROB_TOLERANCE = 0.01  # |row sum − 1| allowed: probabilities rounded to two decimals pass
PROB_FLOOR = 1e-12  # a probability of 0 becomes log(1e-12) ≈ −27.6, not −inf


@dataclass(frozen=True)
class ScoredDataset:
    """A dataset with its imported scores: ``logits`` (N, C) float32 in label order, read
    from score columns of ``kind`` ("logit" or "prob")."""

    dataset: TextDataset
    logits: np.ndarray
    kind: str


def load_scored(source: str | Path, *, text_col: str = "text", label_col: str = "label",
                text_pair_col: str | None = None,
                label_names: list[str] | None = None) -> ScoredDataset:
    """Read a table of texts, labels and score columns; DataError (one line naming the
    file, column and row) on anything unusable."""
    return scored_from_frame(read_table(source), source=str(source), text_col=text_col,
                             label_col=label_col, text_pair_col=text_pair_col,
                             label_names=label_names)


def scored_from_frame(frame: pd.DataFrame, *, source: str, text_col: str = "text",
                      label_col: str = "label", text_pair_col: str | None = None,
                      label_names: list[str] | None = None) -> ScoredDataset:
    """Validate an already-read table; see :func:`load_scored`."""
    dataset = dataset_from_frame(frame, source=source, text_col=text_col, label_col=label_col,
                                 text_pair_col=text_pair_col, label_names=label_names)
    kind, columns = score_columns(frame.columns, dataset.label_names, source)
    return ScoredDataset(dataset, scores_to_logits(frame[columns], kind, source), kind)


def has_score_columns(columns: pd.Index) -> bool:
    """Whether a table has any logit_/prob_ column (the Data page then offers the import)."""
    return any(str(column).startswith(tuple(SCORE_PREFIXES.values())) for column in columns)


def score_columns(columns: pd.Index, label_names: list[str], source: str) -> tuple[str, list[str]]:
    """The score kind and its columns in label order; logits win when both kinds are
    complete. DataError when a label has no column, or a column names no label."""
    columns = [str(column) for column in columns]
    complete, found = {}, {}
    for kind, prefix in SCORE_PREFIXES.items():
        named = {column[len(prefix):] for column in columns if column.startswith(prefix)}
        found[kind] = named
        if named and named == set(label_names):
            complete[kind] = [prefix + label for label in label_names]
    if "logit" in complete:
        return "logit", complete["logit"]
    if "prob" in complete:
        return "prob", complete["prob"]
    kind = max(found, key=lambda name: len(found[name]))
    prefix = SCORE_PREFIXES[kind]
    if not found[kind]:
        expected = ", ".join(prefix + name for name in label_names[:4])
        raise DataError(f"{source}: no score columns; give one per class, named logit_<label> "
                        f"or prob_<label> (here {expected}"
                        f"{' …' if len(label_names) > 4 else ''})")
    missing = [label for label in label_names if label not in found[kind]]
    extra = sorted(found[kind] - set(label_names))
    problems = []
    if missing:
        problems.append(f"labels without a score column: {', '.join(missing[:10])}")
    if extra:
        problems.append(f"score columns for classes the label column does not have: "
                        f"{', '.join(prefix + label for label in extra[:10])}")
    raise DataError(f"{source}: {'; '.join(problems)} (one {prefix}<label> column per class "
                    f"of {', '.join(label_names[:10])})")


def scores_to_logits(scores: pd.DataFrame, kind: str, source: str) -> np.ndarray:
    """(N, C) float32 logits from the score columns; DataError at the first bad value."""
    values = scores.apply(pd.to_numeric, errors="coerce").to_numpy(dtype=np.float64)
    bad_rows, bad_columns = np.nonzero(~np.isfinite(values))
    if len(bad_rows):
        row, column = bad_rows[0], scores.columns[bad_columns[0]]
        value = str(scores.iloc[row, bad_columns[0]]).strip()
        rows = len(set(bad_rows.tolist()))
        raise DataError(f"{source}: column '{column}', row {row + 1}: score "
                        f"{f'{value!r} is not a finite number' if value else 'is missing'} "
                        f"({rows:,} row{'s' if rows > 1 else ''} with a bad score)")
    if kind == "logit":
        return values.astype(np.float32)
    outside = np.flatnonzero(((values < 0) | (values > 1)).any(axis=1))
    if len(outside):
        raise DataError(f"{source}: row {outside[0] + 1}: probabilities must lie in [0, 1] "
                        f"({len(outside):,} rows do not); give logit_<label> columns for "
                        "raw scores")
    sums = values.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1.0) > PROB_TOLERANCE)
    if len(off):
        raise DataError(f"{source}: row {off[0] + 1}: probabilities sum to {sums[off[0]]:.4g}, "
                        f"not 1 (±{PROB_TOLERANCE:g}; {len(off):,} rows); give logit_<label> "
                        "columns for scores that are not probabilities")
    return np.log(np.maximum(values / sums[:, None], PROB_FLOOR)).astype(np.float32)


def import_predictions(scored: ScoredDataset, out_dir: Path, *,
                       test: ScoredDataset | None = None,
                       test_size: float = DEFAULT_TEST_SIZE) -> RunRecord:
    """Write ``out_dir`` as a run of the imported scores; returns its record.

    Without ``test``, a stratified ``test_size`` share of the rows (with their scores) is
    held out as the test split, as training does. Importing the same table into the same
    folder again returns the run as it is; anything else in the folder is refused."""
    pool, logits = scored.dataset, scored.logits
    held_out = None
    if test is None and check_test_size(test_size) > 0:
        held_out = HeldOut(share=test_size, seed=SPLIT_SEED, source_rows=len(pool),
                           source_hash=scores_hash(scored))
        pool, test_set = hold_out(pool, test_size, SPLIT_SEED)
        test = ScoredDataset(test_set, logits[test_set.ids], scored.kind)
        logits = logits[pool.ids]
    input_hash = held_out.source_hash if held_out else scores_hash(scored)
    out_dir = Path(out_dir)
    if (out_dir / RUN_FILE).is_file():
        return _same_import(out_dir, input_hash)
    out_dir = prepare_out_dir(out_dir)
    nobody = np.zeros(len(pool), dtype=bool)
    write_logits(out_dir, logits)
    write_points(out_dir, points_frame(pool, logits, nobody))
    if test is not None:
        write_logits(out_dir, test.logits, test=True)
        write_points(out_dir, points_frame(test.dataset, test.logits,
                                           np.zeros(len(test.dataset), dtype=bool)), test=True)
    record = RunRecord(
        run_id=new_run_id(), label_names=list(pool.label_names), dataset=dataset_record(pool),
        config=RunConfig(imported=scored.kind, scores_hash=input_hash, fine_tune=False),
        test_dataset=dataset_record(test.dataset) if test is not None else None,
        pool_accuracy=accuracy(logits, pool.labels),
        test_accuracy=accuracy(test.logits, test.dataset.labels) if test is not None else None,
        versions=package_versions(), device="imported", topex_version=TOPEX_VERSION,
        held_out=held_out, data_warnings=data_warnings(
            pool, test.dataset if test is not None else None, own_test_file=held_out is None,
            trained=np.zeros(len(pool), bool)))
    write_run(out_dir, record)
    return record


def _same_import(out_dir: Path, input_hash: str) -> RunRecord:
    existing = read_run(out_dir)
    if existing.config.scores_hash != input_hash:
        raise RunError(f"{out_dir} holds another run ({existing.dataset.source}, "
                       f"{existing.dataset.rows:,} rows); choose a new run folder")
    return existing


def scores_hash(scored: ScoredDataset) -> str:
    """SHA-256 (hex) of the dataset's content hash and its scores: other scores of the same
    texts are another run."""
    digest = hashlib.sha256(scored.dataset.content_hash.encode())
    digest.update(np.ascontiguousarray(scored.logits).tobytes())
    return digest.hexdigest()
