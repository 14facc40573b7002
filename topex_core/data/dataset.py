"""Loading labelled text datasets (CSV, TSV, JSONL, Parquet, Hugging Face) into a typed object.

Every error a user can cause is a :class:`DataError` whose message names the file, the
column and, where there is one, the (1-based, header excluded) row, so that the CLI and
the dashboard can show it as one line instead of a traceback.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from topex_core.data import checks
from topex_core.errors import DataError

SUPPORTED_SUFFIXES = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl",
                      ".parquet": "parquet", ".pq": "parquet"}
HF_PREFIX = "hf:"
MAX_FIELD_CHARS = 64 * 1024 * 1024  # one text may be long (a book chapter), not unbounded



@dataclass(frozen=True)
class TextDataset:
    """A labelled text-classification dataset.

    ids: (N,) int64, stable row ids (0-based position of the row in the source).
    texts: N strings; text_pairs: N strings for sentence-pair tasks, else None.
    labels: (N,) int64 indices into ``label_names``.
    content_hash: sha256 over texts, pairs and label names (not the file's bytes), so the
    same data read from CSV or Parquet hashes the same.
    warnings: what loading changed or found doubtful, one sentence each (``checks``);
    they travel with every subset and are kept in run.json.
    """

    source: str
    text_col: str
    label_col: str
    text_pair_col: str | None
    ids: np.ndarray
    texts: list[str]
    text_pairs: list[str] | None
    labels: np.ndarray
    label_names: list[str]
    content_hash: str = field(default="")
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.texts)

    def row_keys(self) -> list:
        """Each row's text, or (text, pair) for sentence pairs: equal keys, equal inputs."""
        if self.text_pairs is None:
            return list(self.texts)
        return list(zip(self.texts, self.text_pairs, strict=True))

    @property
    def num_classes(self) -> int:
        return len(self.label_names)

    def subset(self, positions: np.ndarray) -> TextDataset:
        """Rows at ``positions`` (indices into this dataset), keeping ids and label names."""
        positions = np.asarray(positions, dtype=np.int64)
        pairs = [self.text_pairs[i] for i in positions] if self.text_pairs is not None else None
        texts = [self.texts[i] for i in positions]
        labels = self.labels[positions]
        return TextDataset(
            source=self.source, text_col=self.text_col, label_col=self.label_col,
            text_pair_col=self.text_pair_col, ids=self.ids[positions], texts=texts,
            text_pairs=pairs, labels=labels, label_names=self.label_names,
            content_hash=_content_hash(texts, pairs, labels, self.label_names),
            warnings=self.warnings,
        )

    def to_frame(self) -> pd.DataFrame:
        """Columns id, text, [text_pair], label (the label's name)."""
        frame = pd.DataFrame({"id": self.ids, "text": self.texts})
        if self.text_pairs is not None:
            frame["text_pair"] = self.text_pairs
        frame["label"] = [self.label_names[i] for i in self.labels]
        return frame


def read_table(source: str | Path) -> pd.DataFrame:
    """Read a file (by suffix) or a Hugging Face dataset (``hf:NAME[:SPLIT]``) as strings.

    Values are kept as read (no type inference beyond what the format carries) so that
    labels such as ``007`` keep their spelling.
    """
    source_str = str(source)
    if source_str.startswith(HF_PREFIX):
        return _read_hugging_face(source_str[len(HF_PREFIX):])
    path = Path(source_str)
    kind = SUPPORTED_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise DataError(f"{path}: unsupported file type '{path.suffix}'; "
                        f"use one of {', '.join(sorted(SUPPORTED_SUFFIXES))} or hf:NAME")
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(f"{path}: the file is empty")
    if kind == "parquet":
        return _read_parquet(path, raw)
    text = _decode(path, raw)
    if kind == "jsonl":
        return _read_jsonl(path, text)
    return _read_delimited(path, text, "\t" if kind == "tsv" else ",")


def load_dataset(
    source: str | Path,
    *,
    text_col: str = "text",
    label_col: str = "label",
    text_pair_col: str | None = None,
    label_names: list[str] | None = None,
) -> TextDataset:
    """Load and validate a labelled dataset.

    ``label_names`` fixes the label vocabulary (used for a test split, which must use the
    training labels); otherwise it is the sorted set of labels found (numerically sorted
    when every label is a number). Raises :class:`DataError` on any unusable input.
    """
    frame = read_table(source)
    return dataset_from_frame(frame, source=str(source), text_col=text_col, label_col=label_col,
                              text_pair_col=text_pair_col, label_names=label_names)


def dataset_from_frame(
    frame: pd.DataFrame,
    *,
    source: str,
    text_col: str = "text",
    label_col: str = "label",
    text_pair_col: str | None = None,
    label_names: list[str] | None = None,
) -> TextDataset:
    """Validate an already-read table; see :func:`load_dataset`."""
    if len(frame) == 0:
        raise DataError(f"{source}: no data rows")
    columns = [str(c) for c in frame.columns]
    wanted = [("text", text_col), ("label", label_col)]
    if text_pair_col:
        wanted.append(("text pair", text_pair_col))
    for role, name in wanted:
        if name not in columns:
            raise DataError(f"{source}: {role} column '{name}' not found; "
                            f"columns are {', '.join(columns[:20])}"
                            f"{' …' if len(columns) > 20 else ''}")
    if text_pair_col and text_pair_col == text_col:
        raise DataError(f"{source}: the text pair column must differ from the text column")
    if label_col in (text_col, text_pair_col):
        raise DataError(f"{source}: the label column '{label_col}' is also a text column")
    texts, cleaned = _text_column(frame[text_col], source, text_col)
    pairs, cleaned_pairs = (_text_column(frame[text_pair_col], source, text_pair_col)
                            if text_pair_col else (None, []))
    label_strings = _label_column(frame[label_col], source, label_col)
    found = _sorted_labels(set(label_strings))
    if label_names is None:
        if len(found) < 2:
            raise DataError(f"{source}: column '{label_col}' has only one class "
                            f"('{found[0]}'); a classifier needs at least two")
        checks.check_not_an_id(len(found), len(label_strings), source, label_col)
        label_names = found
    else:
        unknown = [name for name in found if name not in set(label_names)]
        if unknown:
            raise DataError(f"{source}: column '{label_col}' has labels unknown to the "
                            f"training data: {', '.join(unknown[:10])}")
    index = {name: i for i, name in enumerate(label_names)}
    labels = np.array([index[name] for name in label_strings], dtype=np.int64)
    return TextDataset(
        source=source, text_col=text_col, label_col=label_col, text_pair_col=text_pair_col,
        ids=np.arange(len(texts), dtype=np.int64), texts=texts, text_pairs=pairs,
        labels=labels, label_names=list(label_names),
        content_hash=_content_hash(texts, pairs, labels, list(label_names)),
        warnings=checks.text_warnings(texts, pairs, sorted({*cleaned, *cleaned_pairs}),
                                      text_col),
    )


def _decode(path: Path, raw: bytes) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DataError(f"{path}: not valid UTF-8 (byte {error.start}, line {line}); "
                        "save the file as UTF-8") from None


def _read_delimited(path: Path, text: str, delimiter: str) -> pd.DataFrame:
    kind = "TSV" if delimiter == "\t" else "CSV"
    csv.field_size_limit(MAX_FIELD_CHARS)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as error:
        raise DataError(f"{path}: malformed {kind}: {_one_line(error)}") from None
    header, body = rows[0], [row for row in rows[1:] if row]
    checks.check_separator(path, header, delimiter)
    _check_header(path, header)
    for row_number, row in enumerate(body, start=1):
        if len(row) != len(header):
            raise DataError(f"{path}: malformed {kind}: row {row_number} has {len(row)} fields, "
                            f"the header has {len(header)}")
    return pd.DataFrame(body, columns=header, dtype=object)


def _check_header(path: Path, header: list[str]) -> None:
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise DataError(f"{path}: duplicate column name '{name}' in the header")
        seen.add(name)


def _read_jsonl(path: Path, text: str) -> pd.DataFrame:
    records = []
    for line_number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DataError(f"{path}: line {line_number} is not valid JSON ({error.msg})") from None
        if not isinstance(record, dict):
            raise DataError(f"{path}: line {line_number} is not a JSON object")
        records.append(record)
    if not records:
        raise DataError(f"{path}: the file is empty")
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path, raw: bytes) -> pd.DataFrame:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(raw))
    except (pa.ArrowException, OSError) as error:
        raise DataError(f"{path}: not a readable Parquet file ({_one_line(error)})") from None
    _check_header(path, table.column_names)
    return table.to_pandas()


def _read_hugging_face(spec: str) -> pd.DataFrame:
    name, _, split = spec.partition(":")
    try:
        import datasets
    except ImportError:
        raise DataError(f"hf:{spec}: Hugging Face datasets need the 'datasets' package "
                        "(pip install datasets) and network access") from None
    try:
        loaded = datasets.load_dataset(name, split=split or "train")
    except Exception as error:  # the library raises many unrelated types for one failure
        raise DataError(f"hf:{spec}: cannot load ({_one_line(error)})") from None
    return loaded.to_pandas()


def _text_column(column: pd.Series, source: str, name: str) -> tuple[list[str], list[int]]:
    """(the texts, NUL and other control characters stripped; the rows, 1-based, that had
    some)."""
    texts, cleaned = [], []
    for row, value in enumerate(column.tolist(), start=1):
        if not isinstance(value, str):
            kind = "missing" if _is_missing(value) else f"not text ({type(value).__name__})"
            raise DataError(f"{source}: column '{name}', row {row}: value is {kind}")
        stripped = checks.without_control_characters(value)
        if stripped != value:
            cleaned.append(row)
        if not stripped.strip():
            raise DataError(f"{source}: column '{name}', row {row}: text is empty")
        texts.append(stripped)
    return texts, cleaned


def _label_column(column: pd.Series, source: str, name: str) -> list[str]:
    labels = []
    for row, value in enumerate(column.tolist(), start=1):
        if isinstance(value, (dict, list, tuple, set, np.ndarray)):
            raise DataError(f"{source}: column '{name}', row {row}: the label is "
                            f"{'an object' if isinstance(value, dict) else 'a list'} "
                            f"({type(value).__name__}), not a class name; point the label "
                            "column at a field that holds one")
        if _is_missing(value) or (isinstance(value, str) and not value.strip()):
            raise DataError(f"{source}: column '{name}', row {row}: "
                            "label is missing (NaN or empty)")
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        labels.append(str(value).strip())
    return labels


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _sorted_labels(labels: set[str]) -> list[str]:
    try:
        return sorted(labels, key=float)
    except ValueError:
        return sorted(labels)


def _content_hash(texts: list[str], pairs: list[str] | None, labels: np.ndarray,
                  label_names: list[str]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(label_names).encode())
    for position, text in enumerate(texts):
        digest.update(text.encode("utf-8", "surrogatepass"))
        digest.update(b"\x1f")
        if pairs is not None:
            digest.update(pairs[position].encode("utf-8", "surrogatepass"))
        digest.update(b"\x1e")
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())[:300]
