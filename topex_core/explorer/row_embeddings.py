"""Sentence embeddings of a run's rows, computed once per run: the one embedding cache.

The scores embed the texts of every error cluster, the concepts and the descriptions
theirs, and the candidate checks the reference rows; exploring again with other settings
finds many of the same rows, so each row's embedding is kept in ``row_embeddings.npz``
(row positions, vectors) with the embedder's name and a hash of the run's texts, and
only rows not embedded before are embedded.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from topex_core.exploredir import read_row_embeddings, write_row_embeddings
from topex_core.training.embeddings import Embed


class RowEmbeddings:
    """Callable: row positions (n,) → (n, e) float32 embeddings of those rows' texts."""

    def __init__(self, run_dir: Path, texts: Sequence[str], embed: Embed) -> None:
        self.run_dir = Path(run_dir)
        self.texts, self.embed = texts, embed
        self.identity = json.dumps({
            "embedder": getattr(embed, "identity", getattr(embed, "__qualname__",
                                                            type(embed).__name__)),
            "texts_sha256": hashlib.sha256("\x1f".join(texts).encode()).hexdigest()})
        self.vectors: dict[int, np.ndarray] = self._load()
        self.embedded = 0  # rows embedded by this object (the rest came from the file)

    def __call__(self, positions: np.ndarray, *, batch: int = 2_048,
                 progress: Callable[[float, str], None] | None = None) -> np.ndarray:
        """``progress`` hears (fraction, message) after each ``batch`` of rows embedded."""
        positions = np.asarray(positions, dtype=np.int64)
        missing = sorted({int(p) for p in positions} - self.vectors.keys())
        for start in range(0, len(missing), batch):
            chunk = missing[start:start + batch]
            fresh = np.asarray(self.embed([self.texts[p] for p in chunk]), np.float32)
            self.vectors.update(zip(chunk, fresh, strict=True))
            if progress is not None:
                done = start + len(chunk)
                progress(done / len(missing), f"embedding {done:,} of {len(missing):,} rows "
                                              "(once per run)")
        if missing:
            self.embedded += len(missing)
            self._save()
        if not len(positions):
            return np.zeros((0, 0), np.float32)
        return np.stack([self.vectors[int(p)] for p in positions])

    def _load(self) -> dict[int, np.ndarray]:
        cached = read_row_embeddings(self.run_dir)
        if cached is None or cached[0] != self.identity:
            return {}
        return dict(zip(cached[1].tolist(), cached[2], strict=True))

    def _save(self) -> None:
        positions = np.array(sorted(self.vectors), dtype=np.int64)
        write_row_embeddings(self.run_dir, self.identity, positions,
                             np.stack([self.vectors[p] for p in positions.tolist()]))
