"""Data & model: pick a dataset and its columns; fine-tune, use a classifier as it is or
import predictions; reopen past runs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
import streamlit as st

from topex_app.rounds import latest_round
from topex_app.state import current_run, set_current_run
from topex_app.work import long_work
from topex_core import config as topex_config
from topex_core.config import PRECISIONS, RUN_PRECISIONS, TRAIN_PRECISIONS, TRUNCATIONS
from topex_core.data import demo
from topex_core.data.dataset import (
    HF_PREFIX,
    SUPPORTED_SUFFIXES,
    TextDataset,
    dataset_from_frame,
    read_table,
)
from topex_core.data.split import DEFAULT_TEST_SIZE
from topex_core.errors import TopexError
from topex_core.rundir import (
    RunListing,
    import_folder_name,
    is_run,
    list_runs,
    run_folder_name,
)
from topex_core.train_config import RunConfig
from topex_core.training.adopt import parse_label_map
from topex_core.training.classifier import TrainConfig, set_cpu_threads
from topex_core.training.hardware import fast_train_precision
from topex_core.training.imported import (
    ScoredDataset,
    has_score_columns,
    import_predictions,
    scored_from_frame,
    scores_hash,
)
from topex_core.training.run import train_run

SOURCES = ["Embedded demo", "Upload a file", "Server-side path", "Hugging Face dataset"]
MODEL_CHOICES = ["Fine-tune a backbone", "Use a classifier as it is",
                 "Import the predictions in this file"]
PREVIEW_ROWS = 8


def _uploaded_path(upload) -> Path:
    """Keep the upload on disk under its content hash so a refresh can reopen it."""
    content = upload.getvalue()
    suffix = Path(upload.name).suffix.lower()
    path = topex_config.uploads_dir() / f"{hashlib.sha256(content).hexdigest()[:20]}{suffix}"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_bytes(content)
    return path


def _choose_source() -> tuple[str, Path | str | None]:
    source = st.radio("Dataset", SOURCES, horizontal=True, key="data_source")
    if source == SOURCES[0]:
        st.caption("Support tickets of an imaginary electronics shop (10,000 train and 1,000 test "
                   "rows, 5 classes) with rare sub-topics written in another class's words.")
        return "demo", None
    return source, _choose_file(source, "data")


def _choose_file(source: str, key: str, what: str = "Labelled text file") -> Path | str | None:
    """A file of the chosen kind of source: an upload, a server-side path or an HF split."""
    if source == SOURCES[1]:
        upload = st.file_uploader(what, key=f"{key}_upload",
                                  type=[suffix.lstrip(".") for suffix in SUPPORTED_SUFFIXES])
        return _uploaded_path(upload) if upload else None
    if source == SOURCES[3]:
        name = st.text_input(f"{what}: dataset id and split", key=f"{key}_hf",
                             placeholder="ag_news:train" if key == "data" else "ag_news:test",
                             help="NAME[:SPLIT]; needs the 'datasets' package and network "
                                  "access (or a local Hugging Face cache)")
        return f"{HF_PREFIX}{name.strip()}" if name.strip() else None
    typed = st.text_input(f"{what}: path under the data root", key=f"{key}_path",
                          help=f"Data root: {topex_config.data_root()}")
    if not typed:
        return None
    try:
        return topex_config.resolve_server_path(typed)
    except TopexError as error:
        st.error(str(error))
        return None


def _choose_test(source: str) -> tuple[Path | str | None, float]:
    """(test file or None, share to hold out): every run gets a test split."""
    choice = st.radio("Test split", ["Hold out a share of this data", "A separate test file"],
                      horizontal=True, key="data_test_choice",
                      help="Test figures come from rows that no training, clustering or "
                           "augmentation touched.")
    if choice.startswith("Hold out"):
        percent = st.slider("Held-out share (stratified by label, seeded)", 5, 50,
                            int(100 * DEFAULT_TEST_SIZE), step=5, format="%d%%",
                            key="data_test_share")
        return None, percent / 100
    path = _choose_file(source, "data_test", "Test file (same columns)")
    if path is None:
        st.warning("Give the test file, or hold out a share: without either, this run has "
                   "no test figures.")
        return None, 0.0
    return path, 0.0


def _choose_columns(frame: pd.DataFrame) -> dict[str, str | None]:
    columns = [str(c) for c in frame.columns]
    text_default = columns.index("text") if "text" in columns else 0
    label_default = columns.index("label") if "label" in columns else len(columns) - 1
    left, middle, right = st.columns(3)
    text_col = left.selectbox("Text column", columns, index=text_default, key="data_text_col")
    pair_options = ["(none)"] + [c for c in columns if c != text_col]
    pair = middle.selectbox("Second text column (sentence pairs)", pair_options,
                            key="data_pair_col")
    label_col = right.selectbox("Label column", columns, index=label_default,
                                key="data_label_col")
    return {"text_col": text_col, "label_col": label_col,
            "text_pair_col": None if pair == "(none)" else pair}


def _model_choice(offers_import: bool) -> str:
    choices = MODEL_CHOICES if offers_import else MODEL_CHOICES[:2]
    return st.radio("Model", choices, horizontal=True, key="data_model_choice",
                    index=2 if offers_import else 0,
                    help="Fine-tune a backbone on this data; take a fine-tuned sequence "
                         "classifier as it is (its classes matched to the labels); or read "
                         "predictions made elsewhere from logit_<label> / prob_<label> "
                         "columns, with no model at all.")


def _as_is_settings() -> tuple[TrainConfig, str]:
    left, right = st.columns(2)
    model = left.text_input("Classifier", key="data_as_is_model",
                            placeholder="a Hugging Face id or a local directory",
                            help="A fine-tuned sequence-classification model with "
                                 "safetensors weights (pickle checkpoints are refused).")
    label_map = right.text_input("Label map (only where names differ)", key="data_label_map",
                                 placeholder="neg=NEGATIVE,pos=POSITIVE",
                                 help="data label=model label pairs; without it, labels are "
                                      "matched exactly, then ignoring case and spaces.")
    precision = st.selectbox("Logits precision", PRECISIONS, key="data_as_is_precision",
                             help="float32 gives the model's exact logits; bfloat16 is "
                                  "faster on CPUs with AMX and on GPUs.")
    return TrainConfig(backbone=model.strip(), fine_tune=False,
                       label_map=parse_label_map(label_map) if label_map.strip() else None
                       ), precision


def _training_settings() -> tuple[TrainConfig, str]:
    with st.expander("Model and training", expanded=False):
        left, middle, right = st.columns(3)
        backbone = left.text_input("Backbone", value="", key="data_backbone",
                                   placeholder="packaged all-MiniLM-L6-v2",
                                   help="A Hugging Face model id or a local directory.")
        train_size = middle.number_input("Training subset", 2, 1_000_000, 1000, step=100,
                                         key="data_train_size")
        epochs = right.number_input("Epochs (0 = auto)", 0, 20, 0, key="data_epochs",
                                    help="auto: 3, or 2 when the texts get more than 128 "
                                         "tokens (long texts carry more per row and each "
                                         "epoch costs more)")
        seed = left.number_input("Seed", 0, 2**31 - 1, 0, key="data_seed")
        max_length = middle.number_input("Max tokens (0 = from the data)", 0, 4096, 0,
                                         key="data_max_length")
        precision = right.selectbox(
            "Logits precision", RUN_PRECISIONS, key="data_precision",
            help="float32 gives the model's exact logits. bfloat16 is about 1.7× faster on "
                 "CPUs with AMX and on GPUs, moves logits by about 0.01 and can flip a few "
                 "near-tied predictions; int8 (CPU only) is about 1.5× faster on CPUs "
                 "without AMX, but with one frozen layer it cost 1.1 points on long "
                 "documents (training and logits 271 s → 210 s). Later rounds of the run use "
                 "the same precision. auto: for long texts (more than 128 tokens) bfloat16 "
                 "where training ran in bfloat16; float32 otherwise.")
        truncation = left.selectbox(
            "Long texts keep", TRUNCATIONS, key="data_truncation",
            format_func={"head_tail": "their opening and ending (≤ 192 tokens)",
                         "head": "their opening (≤ 256 tokens)"}.get,
            help="A text longer than the token budget keeps its first quarter and last three "
                 "quarters (reviews end with their verdict), or only its start.")
        train_precision = middle.selectbox(
            "Training precision", TRAIN_PRECISIONS, key="data_train_precision",
            help=f"auto fine-tunes in bfloat16 where the hardware is fast at it (here: "
                 f"{fast_train_precision()}), else float32.")
        frozen = right.number_input(
            "Frozen layers (-1 = auto)", -1, 48, -1, key="data_freeze_layers",
            help="the embeddings and this many of the lowest encoder layers keep their "
                 "pre-trained weights, which saves their backward pass: 1 (with int8 "
                 "logits) took a long-text run's training and logits from 271 s to 210 s on "
                 "a CPU without AMX and cost 1.1 points. auto: 0.")
    return TrainConfig(backbone=backbone.strip(), train_size=int(train_size),
                       epochs=int(epochs) or None, seed=int(seed),
                       max_length=int(max_length) or None, truncation=truncation,
                       train_precision=train_precision,
                       freeze_layers=None if frozen < 0 else int(frozen)), precision


def _import(pool: ScoredDataset, test: ScoredDataset | None, test_size: float,
            name: str) -> None:
    out_dir = topex_config.runs_dir() / name
    if is_run(out_dir):
        st.info(f"These predictions were imported before: reopened run {name}.")
    record = import_predictions(pool, out_dir, test=test, test_size=test_size)
    test_note = ("" if record.test_accuracy is None
                 else f", test accuracy {record.test_accuracy:.1%}")
    test_rows = record.test_dataset.rows if record.test_dataset else 0
    st.success(f"Imported {record.dataset.rows + test_rows:,} predictions ({pool.kind} "
               f"columns; {record.dataset.rows:,} in the pool, {test_rows:,} in the test "
               f"split): pool accuracy {record.pool_accuracy:.1%}{test_note}. Explore them "
               "next; retraining will fine-tune a backbone, since there is no model.")
    set_current_run(out_dir)


def _train(pool: TextDataset, test: TextDataset | None, test_size: float,
           config: TrainConfig, precision: str, name: str) -> None:
    out_dir = topex_config.runs_dir() / name
    if is_run(out_dir):
        st.info(f"This data was trained with these settings before: reopened run {name}.")
    with long_work("Fine-tuning the classifier…" if config.fine_tune
                   else "Predicting with the classifier as it is…",
                   failed_label="Training failed", first_step="loading the model") as work:
        set_cpu_threads()
        record = train_run(pool, config, out_dir, test=test, test_size=test_size,
                           precision=precision, progress=work.progress)
        test_note = ("" if record.test_accuracy is None
                     else f", test accuracy {record.test_accuracy:.1%}")
        work.done(f"Done: pool accuracy {record.pool_accuracy:.1%}{test_note}")
        set_current_run(out_dir)


def _show_current_run(runs: list[RunListing]) -> None:
    run_dir = current_run()
    record = next((r.record for r in runs if r.run_dir == run_dir), None)
    if record is None:
        return
    st.subheader("Current run")
    cols = st.columns(4)
    test_accuracy = record.test_accuracy
    cols[0].metric("Test accuracy", "—" if test_accuracy is None else f"{test_accuracy:.1%}",
                   help=_test_origin(record.held_out.share if record.held_out else None,
                                     record.test_dataset.rows if record.test_dataset else 0))
    cols[1].metric("Pool accuracy", f"{record.pool_accuracy:.1%}",
                   help="on the pool, which includes the rows the model was trained on"
                   if record.config.fine_tune
                   else "on the pool; no row of it was used for training here")
    cols[2].metric("Pool rows", f"{record.dataset.rows:,}")
    cols[3].metric("Classes", len(record.label_names))
    stages = " · ".join(f"{stage.replace('_', ' ')} {seconds:.1f} s"
                        for stage, seconds in record.timings_s.items())
    st.caption(f"{_model_origin(record.config)} · {run_dir}" + (f" · {stages}" if stages else ""))
    for warning in record.data_warnings:
        st.warning(f"The data of this run: {warning}.")
    latest_round(run_dir)


def _model_origin(config: RunConfig) -> str:
    if config.imported:
        return f"imported predictions ({config.imported} columns), no model"
    backbone = Path(config.backbone).name or "the packaged backbone"
    if not config.fine_tune:
        return f"classifier {backbone} used as it is"
    return f"{backbone} fine-tuned on {config.train_size:,} rows"


def _test_origin(held_out_share: float | None, test_rows: int) -> str:
    if not test_rows:
        return "this run has no test split"
    if held_out_share is not None:
        return (f"{test_rows:,} rows ({held_out_share:.0%} of the given data, stratified) "
                "held out of training, clustering and augmentation")
    return f"{test_rows:,} rows of the separate test file"


def _past_runs(runs: list[RunListing]) -> None:
    st.subheader("Past runs")
    if not runs:
        st.info("No runs yet: train one above.")
        return
    table = pd.DataFrame([{
        "run": r.run_dir.name, "dataset": r.record.dataset.source,
        "pool rows": r.record.dataset.rows,
        "test rows": r.record.test_dataset.rows if r.record.test_dataset else 0,
        "test accuracy": r.record.test_accuracy, "pool accuracy": r.record.pool_accuracy,
    } for r in runs])
    percent = st.column_config.NumberColumn(format="percent")
    st.dataframe(table, hide_index=True, width="stretch",
                 column_config={"test accuracy": percent, "pool accuracy": percent})
    chosen = st.selectbox("Reopen", table["run"], key="data_reopen")
    if st.button("Open this run", key="data_open"):
        set_current_run(next(r.run_dir for r in runs if r.run_dir.name == chosen))
        st.rerun()


def _model_step(label: str, pool: TextDataset, test: TextDataset | None,
                test_path: Path | str | None, test_size: float, frame: pd.DataFrame | None,
                columns: dict[str, str | None]) -> None:
    """Fine-tune, take a classifier as it is, or import the file's predictions."""
    choice = _model_choice(frame is not None and has_score_columns(frame.columns))
    if choice == MODEL_CHOICES[2]:
        scored = scored_from_frame(frame, source=pool.source, **columns)
        scored_test = (scored_from_frame(read_table(test_path), source=str(test_path),
                                         **columns, label_names=pool.label_names)
                       if test_path is not None else None)
        st.caption(f"Scores: {scored.kind} columns"
                   + (" (probabilities become log-probabilities)" if scored.kind == "prob"
                      else "") + ". No model: the prediction check and head retraining need "
                   "one; full retraining fine-tunes a backbone on this data.")
        if st.button("Import", type="primary", key="data_import"):
            _import(scored, scored_test, test_size, import_folder_name(
                label, pool.content_hash, scores_hash(scored),
                test_scores_hash=scores_hash(scored_test) if scored_test else None,
                test_size=test_size))
        return
    if test_path is not None:
        test = dataset_from_frame(read_table(test_path), source=str(test_path), **columns,
                                  label_names=pool.label_names)
        for warning in test.warnings:
            st.warning(f"{Path(str(test_path)).name}: {warning}. This is kept with the run.")
    as_is = choice == MODEL_CHOICES[1]
    config, precision = _as_is_settings() if as_is else _training_settings()
    if st.button("Predict" if as_is else "Train", type="primary", key="data_train",
                 disabled=as_is and not config.backbone):
        _train(pool, test, test_size, config, precision, run_folder_name(
            label, pool.content_hash, config, test_size=test_size, precision=precision,
            test_hash=test.content_hash if test is not None else None))


st.title("Data & model")
kind, path = _choose_source()
pool = test = frame = test_path = None
test_size = 0.0
columns: dict[str, str | None] = {}
try:
    if kind == "demo":
        pool, test = demo.load_demo()
        st.dataframe(pool.to_frame().head(PREVIEW_ROWS), hide_index=True)
        label = "demo"
    elif path is not None:
        frame = read_table(path)
        st.dataframe(frame.head(PREVIEW_ROWS), hide_index=True)
        columns = _choose_columns(frame)
        pool = dataset_from_frame(frame, source=str(path), **columns)
        label = Path(path).stem
        st.caption(f"{len(pool):,} rows · {pool.num_classes} classes: "
                   f"{', '.join(pool.label_names[:12])}{' …' if pool.num_classes > 12 else ''}")
        for warning in pool.warnings:
            st.warning(f"{Path(path).name}: {warning}. This is kept with the run.")
        test_path, test_size = _choose_test(kind)
    if pool is not None:
        _model_step(label, pool, test, test_path, test_size, frame, columns)
except TopexError as error:
    st.error(str(error))
past_runs = list_runs(topex_config.runs_dir())
_show_current_run(past_runs)
_past_runs(past_runs)
