"""Where TopEx keeps its files, and the package version recorded with every run."""

from __future__ import annotations

import os
from pathlib import Path

TOPEX_VERSION = "0.1.0"
HOME_ENV = "TOPEX_HOME"


def topex_home() -> Path:
    """Data directory: ``$TOPEX_HOME`` when set, else ``~/.topex``."""
    return Path(os.environ.get(HOME_ENV) or Path.home() / ".topex").expanduser()


def cache_dir() -> Path:
    """Fitted models and logits keyed by content (see ``topex_core.run``)."""
    return topex_home() / "cache"
