"""Generation backends for directed augmentation, behind one interface (``base.Backend``).

``make_backend(name, **options)`` builds one by name: ``eda`` (offline, the default),
``openai`` (any OpenAI-compatible server), ``transformers`` (a local causal LM) and
``vllm`` (in process, GPU). Heavy packages load on first use.
"""

from __future__ import annotations

from topex_core.augmenter.generation.base import Backend, Generated, GenerationError, Sampling
from topex_core.augmenter.generation.parsing import ParsedText, parse_output
from topex_core.errors import SettingsError

BACKENDS = ("eda", "openai", "transformers", "vllm")

__all__ = ["BACKENDS", "Backend", "GenerationError", "Generated", "ParsedText", "Sampling",
           "make_backend", "parse_output"]


def make_backend(name: str, **options) -> Backend:
    """The backend called ``name`` built with ``options`` (see each backend's class)."""
    if name == "eda":
        from topex_core.augmenter.generation.eda import EdaBackend
        return EdaBackend(**options)
    if name == "openai":
        from topex_core.augmenter.generation.openai_compat import OpenAIBackend
        return OpenAIBackend(**options)
    if name == "transformers":
        from topex_core.augmenter.generation.local_transformers import TransformersBackend
        return TransformersBackend(**options)
    if name == "vllm":
        from topex_core.augmenter.generation.vllm_engine import VllmBackend
        return VllmBackend(**options)
    raise SettingsError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
