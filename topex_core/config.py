"""Where TopEx keeps its files, the package version recorded with every run, and the
settings the CLI offers before torch is imported."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from topex_core.errors import DataError

TOPEX_VERSION = "0.1.0"
HOME_ENV = "TOPEX_HOME"
DATA_ROOT_ENV = "TOPEX_DATA_ROOT"
# "0" or "1" forces the answer to "is bfloat16 fast here?" (tests and benchmarks of the
# other CPU path); unset, the hardware is asked
FAST_BFLOAT16_ENV = "TOPEX_FAST_BFLOAT16"
# of a run's forward passes: float32 is exact; bfloat16 autocast is fast with AMX or on a
# GPU; int8 (dynamically quantised linear layers) is the CPU's cheaper path without it
PRECISIONS = ("float32", "bfloat16", "int8")
# auto (``settings.run_precision``): for long texts bfloat16 where fine-tuned in bfloat16;
# float32 otherwise (int8 is opt-in)
RUN_PRECISIONS = ("auto", *PRECISIONS)
TRAIN_PRECISIONS = ("auto", "float32", "bfloat16")  # of fine-tuning; auto: bfloat16 where fast
TRUNCATIONS = ("head_tail", "head")  # what a text longer than the budget keeps
RETRAIN_MODES = ("head", "full")  # head: frozen encoder, seconds; full: fine-tune again
MAX_SEEDS = 10  # seeds of one retraining round
# how many times a round adds each accepted sample by default, and at most; 3 repeats
# helped narrow regions but made a rare class over-predicted (bench/bench_repair.py, README)
SAMPLE_REPEATS = 1
MAX_SAMPLE_REPEATS = 20
LOGITS_ENGINES = ("local", "ray")  # topex logits: this process, or a Ray Data job


def topex_home() -> Path:
    """Data directory: ``$TOPEX_HOME`` when set, else ``~/.topex``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".topex").expanduser()


def cache_dir() -> Path:
    """Fitted models and logits keyed by content (see ``topex_core.training.run``)."""
    return topex_home() / "cache"


def runs_dir() -> Path:
    """Run directories created from the dashboard."""
    return topex_home() / "runs"


def uploads_dir() -> Path:
    """Files uploaded through the dashboard, named by their content hash."""
    return topex_home() / "uploads"


def data_root() -> Path:
    """The only folder whose files the dashboard may open by server-side path.

    ``$TOPEX_DATA_ROOT`` when set, else the directory the server was started in.
    """
    return Path(os.environ.get(DATA_ROOT_ENV) or Path.cwd()).expanduser().resolve()


def resolve_server_path(user_path: str) -> Path:
    """``user_path`` (relative to the data root, or absolute) if it lies inside the data root.

    Raises ``ValueError`` for anything outside it, symbolic links that lead out included.
    """
    root = data_root()
    candidate = (root / Path(user_path).expanduser()).resolve()
    if not candidate.is_relative_to(root):
        raise DataError(f"{user_path}: outside the data root {root} "
                         f"(set {DATA_ROOT_ENV} to allow another folder)")
    return candidate


SECRET_NAMES = ("TOPEX_OPENAI_BASE_URL", "TOPEX_OPENAI_MODEL", "TOPEX_OPENAI_API_KEY",
                "TOPEX_DATA_ROOT", "HF_TOKEN")


def apply_secrets(values: Mapping[str, object]) -> list[str]:
    """Use the known settings of ``values`` (the dashboard's ``secrets.toml``) as environment
    defaults; a variable already set in the environment wins. Returns the names applied."""
    applied = []
    for name in SECRET_NAMES:
        value = values.get(name)
        if isinstance(value, str) and value and not os.environ.get(name):
            os.environ[name] = value
            applied.append(name)
    return applied
