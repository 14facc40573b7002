"""Shared fixtures and helpers: a tiny BERT built locally (no download), small seeded
datasets, a planted run (explored, with a tiny classifier) and accepted candidates."""

from __future__ import annotations

import os
import re
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from topex_core.augmenter import augment, backends
from topex_core.augmenter.checks import checker_for_run
from topex_core.config import FAST_BFLOAT16_ENV
from topex_core.data.dataset import dataset_from_frame
from topex_core.explorer.pipeline import explore_run
from topex_core.records import DatasetRecord, RunRecord
from topex_core.region_ref import RegionRef
from topex_core.rundir import new_run_id, read_run, write_run
from topex_core.storage.store import Candidate, Store
from topex_core.train_config import RunConfig
from topex_core.training.classifier import TrainConfig, fine_tune, save_classifier
from topex_core.training.run import points_frame

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

TOPIC_WORDS = {
    "billing": "invoice payment card charged refund receipt price bank",
    "shipping": "parcel courier delivery tracking address dispatch late box",
    "technical": "screen battery wifi bluetooth update crash driver power",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--fast-bfloat16", choices=("auto", "0", "1"), default="auto",
                     help="force the answer to 'is bfloat16 fast on this machine?': 0 runs "
                          "the float32 path of a CPU without AMX, 1 the bfloat16 path, on "
                          "any CPU (auto: ask the hardware)")


def pytest_configure(config: pytest.Config) -> None:
    forced = config.getoption("--fast-bfloat16")
    if forced != "auto":  # in the environment, so that subprocesses (the CLI, the app) follow
        os.environ[FAST_BFLOAT16_ENV] = forced


def pytest_report_header(config: pytest.Config) -> str:
    from topex_core.training.hardware import machine_line

    return f"topex machine: {machine_line()}"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own TOPEX_HOME so caches never leak between tests."""
    monkeypatch.setenv("TOPEX_HOME", str(tmp_path_factory.mktemp("topex_home")))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def tiny_frame(rows_per_class: int = 20, seed: int = 0) -> pd.DataFrame:
    """A small three-class dataset whose classes are separable by their words."""
    import random

    rng = random.Random(seed)
    records = []
    for label, words in TOPIC_WORDS.items():
        vocabulary = words.split()
        for _ in range(rows_per_class):
            text = " ".join(rng.choice(vocabulary) for _ in range(rng.randint(3, 9)))
            records.append({"text": f"my {text}", "label": label})
    rng.shuffle(records)
    return pd.DataFrame.from_records(records)


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Directory of a randomly initialised 2-layer BERT with a word-level vocabulary."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(0)  # the same tiny model in every session, so tests do not flake
    directory = tmp_path_factory.mktemp("tiny_bert")
    words = sorted({w for text in TOPIC_WORDS.values() for w in text.split()}
                   | set(["my", "the", "a", "and", "of", "is", "was", "to", "i", "it"]))
    vocabulary = {token: index for index, token in enumerate(SPECIAL_TOKENS + words)}
    tokenizer = BertTokenizer(vocab=vocabulary)
    config = BertConfig(vocab_size=len(vocabulary), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64,
                        max_position_embeddings=128)
    BertForSequenceClassification(config).save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return str(directory)


@pytest.fixture()
def tiny_csv(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.csv"
    tiny_frame().to_csv(path, index=False)
    return path


def shared_dataset(name: str, split: str) -> Path:
    path = SHARED_DATASETS / name / f"{split}.csv"
    if not path.is_file():
        pytest.skip(f"shared dataset {path} not present")
    return path


def one_line(text: str) -> bool:
    """True when ``text`` is a single non-empty line without a traceback."""
    return len(text.strip().splitlines()) == 1 and not re.search(r"Traceback", text)


def cpu_threads() -> int:
    return len(os.sched_getaffinity(0))


def hashing_embed(texts) -> np.ndarray:
    """A deterministic stand-in for a sentence embedder: bag of hashed words, (n, 64)."""
    import zlib

    vectors = np.zeros((len(texts), 64))
    for row, text in enumerate(texts):
        for word in text.lower().split():
            vectors[row, zlib.crc32(word.encode()) % 64] += 1.0
    return vectors


def make_run(directory: Path, seed: int = 0) -> Path:
    """A run directory with planted logits: three correct blobs and one blob of mistakes."""
    rng = np.random.default_rng(seed)
    centres = np.array([[4.0, -2, -2], [-2, 4, -2], [-2, -2, 4]])
    logits, truth, texts = [], [], []
    topics = ["card payment invoice", "parcel courier tracking", "screen battery wifi"]
    for label, centre in enumerate(centres):
        logits.append(centre + rng.normal(0, 0.3, (60, 3)))
        truth += [label] * 60
        texts += [f"{topics[label]} {word}" for word in rng.choice(["x", "y", "z"], 60)]
    logits.append(np.array([1.0, 1.5, -2]) + rng.normal(0, 0.05, (25, 3)))
    truth += [0] * 25
    texts += ["express delivery fee refund"] * 25
    logits = np.vstack(logits).astype(np.float32)
    label_names = ["billing", "shipping", "tech"]
    frame = pd.DataFrame({"text": texts, "label": [label_names[i] for i in truth]})
    dataset = dataset_from_frame(frame, source="planted", label_names=label_names)
    directory.mkdir(parents=True)
    np.save(directory / "logits.npy", logits)
    points_frame(dataset, logits, np.zeros(len(texts), bool)).to_parquet(
        directory / "points.parquet")
    write_run_record(directory, label_names, rows=len(texts))
    return directory


def write_run_record(directory: Path, label_names: list[str], *, rows: int,
                     **fields) -> RunRecord:
    """A complete run.json for a run built by hand (a fresh run id; ``fields`` override)."""
    record = RunRecord(run_id=new_run_id(), label_names=label_names,
                       dataset=DatasetRecord(source="planted", rows=rows, text_col="text",
                                             label_col="label", content_hash="planted"),
                       **fields)
    write_run(directory, record)
    return record


@pytest.fixture()
def explored(tmp_path: Path, tiny_backbone: str) -> tuple[Path, int]:
    """(run directory, the planted error cluster) with a tiny classifier fine-tuned on a
    third of the planted run's correct blobs."""
    run = make_run(tmp_path / "run")
    labels = read_run(run).label_names
    train_ids = [i for i in range(180) if i % 3 == 0]
    # float32: the planted mistakes must not depend on whether this CPU trains in bfloat16
    config = TrainConfig(backbone=tiny_backbone, train_size=len(train_ids), epochs=10,
                         max_length=16, batch_size=8, learning_rate=5e-3,
                         train_precision="float32")
    points = pd.read_parquet(run / "points.parquet")
    training_set = dataset_from_frame(points.iloc[train_ids][["text", "label"]],
                                      source="planted", label_names=labels)
    save_classifier(fine_tune(training_set, config), run / "model")
    write_run_record(run, labels, rows=205, train_ids=train_ids, config=RunConfig(**asdict(config)))
    result = explore_run(run, embed=hashing_embed)
    return run, result.picked_cluster


def parts(run: Path, cluster: int):
    context = augment.target_context(run, RegionRef("cluster", str(cluster)))
    checker = checker_for_run(context.explored, context.target, embed=hashing_embed,
                              predict=backends.classifier_predict(run))
    return context, checker


def accept(store: Store, run: Path, texts: list[str], label: str = "billing") -> list[int]:
    run_id = store.register_run(run)
    ids = store.add_candidates(run_id, [Candidate(text=t, label=label, backend="eda")
                                        for t in texts])
    for candidate_id in ids:
        store.decide(candidate_id, "accept")
    return ids


