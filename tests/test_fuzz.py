"""Property-based fuzzing (hypothesis) of the two places where arbitrary outside text
enters: the dataset loader and the parser of language-model output."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from topex_core.augmenter.generation.parsing import MAX_CHARS, MAX_ITEMS, MIN_CHARS, parse_output
from topex_core.data.dataset import DataError, TextDataset, dataset_from_frame, load_dataset

FUZZ = settings(max_examples=150, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])
CSV_PIECES = st.sampled_from(["text", "label", ",", "\n", '"', "a", "b", "é", "\t", "\r\n",
                              " ", "0", "nan", "\x00", "{", "}", "🙂"])


@FUZZ
@given(raw=st.binary(max_size=400), suffix=st.sampled_from([".csv", ".tsv", ".jsonl",
                                                              ".parquet"]))
def test_random_bytes_load_or_fail_with_a_data_error(raw: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz{suffix}"
        path.write_bytes(raw)
        try:
            dataset = load_dataset(path)
        except DataError as error:
            assert str(path) in str(error) and "\n" not in str(error).strip()
        else:
            assert isinstance(dataset, TextDataset) and dataset.num_classes >= 2


@FUZZ
@given(pieces=st.lists(CSV_PIECES, max_size=80))
def test_csv_like_text_loads_or_fails_with_a_data_error(pieces: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.csv"
        path.write_text("text,label\n" + "".join(pieces), encoding="utf-8")
        try:
            dataset = load_dataset(path)
        except DataError:
            return
        assert len(dataset.ids) == len(dataset.texts) == len(dataset.labels)
        assert all(text.strip() for text in dataset.texts)


@FUZZ
@given(texts=st.lists(st.one_of(st.text(max_size=30), st.none(), st.integers()),
                      min_size=1, max_size=12),
       labels=st.lists(st.one_of(st.text(max_size=5), st.none(), st.integers(),
                                 st.floats(allow_nan=True)), min_size=1, max_size=12))
def test_frames_with_any_cell_values_load_or_fail_with_a_data_error(texts: list,
                                                                     labels: list) -> None:
    size = min(len(texts), len(labels))
    frame = pd.DataFrame({"text": texts[:size], "label": labels[:size]})
    try:
        dataset = dataset_from_frame(frame, source="fuzz")
    except DataError:
        return
    assert len(dataset.label_names) == len(set(dataset.label_names)) >= 2


@FUZZ
@given(raw=st.text(max_size=600), pair=st.booleans())
def test_the_parser_returns_clean_single_line_candidates(raw: str, pair: bool) -> None:
    parsed = parse_output(raw, pair=pair)
    assert len(parsed) <= MAX_ITEMS and len(set(parsed)) == len(parsed)
    for item in parsed:
        assert MIN_CHARS <= len(item.text) <= MAX_CHARS and "\n" not in item.text
        assert any(character.isalpha() for character in item.text)
        assert (item.text_pair is not None) == pair


@FUZZ
@given(items=st.lists(st.text(min_size=1, max_size=40), min_size=1, max_size=8))
def test_candidates_of_a_numbered_list_only_hold_words_of_the_answer(items: list[str]) -> None:
    raw = "\n".join(f"{i + 1}. {item}" for i, item in enumerate(items))
    parsed = parse_output(raw, pair=False)
    assert len(parsed) <= len(items)
    for candidate in parsed:
        assert all(word in raw for word in candidate.text.split())
