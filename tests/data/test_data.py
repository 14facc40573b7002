from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topex_core.data.dataset import DataError, load_dataset


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def test_csv_tsv_jsonl_parquet_give_the_same_dataset(tmp_path: Path) -> None:
    frame = pd.DataFrame({"text": ["good film", "bad film", "fine film"],
                          "label": ["pos", "neg", "pos"]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    frame.to_csv(tmp_path / "d.tsv", index=False, sep="\t")
    frame.to_json(tmp_path / "d.jsonl", orient="records", lines=True)
    frame.to_parquet(tmp_path / "d.parquet", index=False)
    loaded = [load_dataset(tmp_path / f"d.{suffix}") for suffix in ("csv", "tsv", "jsonl", "parquet")]
    for dataset in loaded:
        assert dataset.texts == ["good film", "bad film", "fine film"]
        assert dataset.label_names == ["neg", "pos"]
        assert dataset.labels.tolist() == [1, 0, 1]
        assert dataset.ids.tolist() == [0, 1, 2]
    assert len({dataset.content_hash for dataset in loaded}) == 1


def test_sentence_pairs_and_custom_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "nli.csv", "premise,hypothesis,gold\n"
                 "A man sleeps.,A man rests.,entailment\nA cat runs.,A dog runs.,non-entailment\n")
    dataset = load_dataset(path, text_col="premise", text_pair_col="hypothesis", label_col="gold")
    assert dataset.text_pairs == ["A man rests.", "A dog runs."]
    assert dataset.to_frame().columns.tolist() == ["id", "text", "text_pair", "label"]


def test_numeric_labels_sort_numerically_and_keep_spelling(tmp_path: Path) -> None:
    path = write(tmp_path / "n.csv", "text,label\na,10\nb,9\nc,10\n")
    assert load_dataset(path).label_names == ["9", "10"]


def test_content_hash_changes_with_a_label(tmp_path: Path) -> None:
    first = load_dataset(write(tmp_path / "a.csv", "text,label\nx,a\ny,b\n"))
    second = load_dataset(write(tmp_path / "b.csv", "text,label\nx,b\ny,a\n"))
    assert first.content_hash != second.content_hash


def test_test_split_must_use_training_labels(tmp_path: Path) -> None:
    train = load_dataset(write(tmp_path / "train.csv", "text,label\nx,a\ny,b\n"))
    path = write(tmp_path / "test.csv", "text,label\nz,c\n")
    with pytest.raises(DataError, match=r"test.csv.*unknown to the training data: c"):
        load_dataset(path, label_names=train.label_names)
    assert load_dataset(write(tmp_path / "ok.csv", "text,label\nz,b\n"),
                        label_names=train.label_names).labels.tolist() == [1]


def test_subset_keeps_ids_and_rehashes(tmp_path: Path) -> None:
    dataset = load_dataset(write(tmp_path / "d.csv", "text,label\na,x\nb,y\nc,x\nd,y\n"))
    part = dataset.subset(np.array([3, 1]))
    assert part.ids.tolist() == [3, 1] and part.texts == ["d", "b"]
    assert part.content_hash != dataset.content_hash


@pytest.mark.parametrize(("name", "content", "kwargs", "message"), [
    ("missing.csv", "body,label\na,x\nb,y\n", {}, r"missing.csv: text column 'text' not found; columns are body, label"),
    ("nolabel.csv", "text,cls\na,x\nb,y\n", {}, r"label column 'label' not found"),
    ("nopair.csv", "text,label\na,x\nb,y\n", {"text_pair_col": "hyp"}, r"text pair column 'hyp' not found"),
    ("empty_text.csv", "text,label\na,x\n   ,y\n", {}, r"column 'text', row 2: text is empty"),
    ("missing_text.jsonl", '{"text": "a", "label": "x"}\n{"text": null, "label": "y"}\n', {}, r"column 'text', row 2: value is missing"),
    ("number_text.jsonl", '{"text": "a", "label": "x"}\n{"text": 5, "label": "y"}\n', {}, r"row 2: value is not text \(int\)"),
    ("one_class.csv", "text,label\na,x\nb,x\n", {}, r"only one class \('x'\)"),
    ("nan_label.csv", "text,label\na,x\nb,\nc,y\n", {}, r"column 'label', row 2: label is missing"),
    ("nan_label.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": NaN}\n', {}, r"row 2: label is missing"),
    ("dup.csv", "text,label,text\na,x,b\n", {}, r"duplicate column name 'text'"),
    ("empty.csv", "", {}, r"empty.csv: the file is empty"),
    ("header_only.csv", "text,label\n", {}, r"no data rows"),
    ("bad.jsonl", '{"text": "a", "label": "x"}\n{oops\n', {}, r"line 2 is not valid JSON"),
    ("list.jsonl", '[1, 2]\n', {}, r"line 1 is not a JSON object"),
    ("ragged.csv", "text,label\na,x\nb,y,z,w\n", {}, r"malformed CSV"),
    ("data.xlsx", "x", {}, r"unsupported file type '.xlsx'"),
    ("same.csv", "text,label\na,x\nb,y\n", {"label_col": "text"}, r"label column 'text' is also a text column"),
])
def test_bad_input_names_file_column_and_row(tmp_path: Path, name: str, content: str,
                                             kwargs: dict, message: str) -> None:
    path = write(tmp_path / name, content)
    with pytest.raises(DataError, match=message):
        load_dataset(path, **kwargs)


def test_wrong_encoding_names_line(tmp_path: Path) -> None:
    path = write(tmp_path / "latin.csv", "text,label\ncaf\xe9,x\nb,y\n".encode("latin-1"))
    with pytest.raises(DataError, match=r"latin.csv: not valid UTF-8 \(byte \d+, line 2\)"):
        load_dataset(path)


def test_missing_file_and_junk_parquet(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_dataset(tmp_path / "nope.csv")
    junk = write(tmp_path / "junk.parquet", bytes(range(256)) * 4)
    with pytest.raises(DataError, match="not a readable Parquet file"):
        load_dataset(junk)


def test_utf8_bom_emoji_and_right_to_left_text(tmp_path: Path) -> None:
    path = write(tmp_path / "u.csv", "\ufefftext,label\n\U0001F600 great,x\nשלום עולם,y\n")
    dataset = load_dataset(path)
    assert dataset.texts == ["\U0001F600 great", "שלום עולם"]


def test_hugging_face_without_datasets_package_is_a_clear_error(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(DataError, match=r"hf:imdb: .*'datasets' package"):
        load_dataset("hf:imdb")


def test_jsonl_extra_keys_are_ignored(tmp_path: Path) -> None:
    lines = [json.dumps({"text": "a", "label": "x", "meta": {"k": 1}}),
             json.dumps({"text": "b", "label": "y"})]
    assert len(load_dataset(write(tmp_path / "e.jsonl", "\n".join(lines)))) == 2
