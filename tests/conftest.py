"""Shared fixtures: a tiny BERT built locally (no download) and small seeded datasets."""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]

TOPIC_WORDS = {
    "billing": "invoice payment card charged refund receipt price bank",
    "shipping": "parcel courier delivery tracking address dispatch late box",
    "technical": "screen battery wifi bluetooth update crash driver power",
}


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
