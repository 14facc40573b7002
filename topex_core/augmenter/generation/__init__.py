"""Generation backends for directed augmentation, behind one interface (``base.Backend``).

``make_backend(name, **options)`` builds one by name from the table in ``registry``:
``eda`` (offline, the default), ``openai`` (any OpenAI-compatible server),
``transformers`` (a local causal LM) and ``vllm`` (in process, GPU). Heavy packages load
on first use.
"""

from __future__ import annotations

from topex_core.augmenter.generation.base import Backend, Generated, GenerationError, Sampling
from topex_core.augmenter.generation.parsing import ParsedText, parse_output
from topex_core.augmenter.generation.registry import (
    BACKEND_SPECS,
    BACKENDS,
    BackendSpec,
    backend_spec,
    make_backend,
)

__all__ = ["BACKENDS", "BACKEND_SPECS", "Backend", "BackendSpec", "GenerationError",
           "Generated", "ParsedText", "Sampling", "backend_spec", "make_backend",
           "parse_output"]
