"""Every generation backend, in one table: its name, a line of help, what its model
setting means, whether it needs a GPU, and where its class lives (imported on first use).

The CLI's choices, the Augment page's select box and its help, the experiment harness and
``make_backend`` all read :data:`BACKEND_SPECS`; a new backend is one row here and one
module beside this one. Importing this module imports no torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from topex_core.augmenter.generation.base import Backend
from topex_core.errors import SettingsError


@dataclass(frozen=True)
class BackendSpec:
    """One backend. ``source``: where its text comes from — "vocabulary" (rewrites with the
    target's own words, no model), "server" (an OpenAI-compatible server: ``base_url``,
    ``model``, ``api_key``) or "local" (a model loaded into this process: ``model``, a
    directory or id; ``needs_model`` when it has no packaged default)."""

    name: str
    help: str
    model_help: str
    source: str
    needs_gpu: bool
    needs_model: bool
    module: str
    class_name: str

    def build(self, **options) -> Backend:
        """The backend made with ``options`` (its class's keyword arguments)."""
        if self.needs_model and not options.get("model"):
            raise SettingsError(f"the {self.name} backend needs a model directory or id")
        module = importlib.import_module(f"topex_core.augmenter.generation.{self.module}")
        return getattr(module, self.class_name)(**options)


BACKEND_SPECS = {spec.name: spec for spec in (
    BackendSpec("eda", "Easy Data Augmentation of the examples: offline, no language model",
                "none", "vocabulary", needs_gpu=False, needs_model=False, module="eda",
                class_name="EdaBackend"),
    BackendSpec("openai", "any OpenAI-compatible server, e.g. `vllm serve MODEL` "
                "(recommended)", "the served model's name (empty: the server's only model)",
                "server", needs_gpu=False, needs_model=False, module="openai_compat",
                class_name="OpenAIBackend"),
    BackendSpec("transformers", "a language model in this process: the packaged "
                "SmolLM2-135M-Instruct (offline) or a model directory",
                "a model directory or id (empty: the packaged SmolLM2-135M-Instruct)",
                "local", needs_gpu=False, needs_model=False, module="local_transformers",
                class_name="TransformersBackend"),
    BackendSpec("vllm", "vLLM in this process (needs a GPU and requirements-gpu.txt)",
                "a model directory or id", "local", needs_gpu=True, needs_model=True,
                module="vllm_engine", class_name="VllmBackend"),
)}
BACKENDS = tuple(BACKEND_SPECS)


def backend_spec(name: str) -> BackendSpec:
    """The row of ``name``; SettingsError listing the backends for an unknown one."""
    if name not in BACKEND_SPECS:
        raise SettingsError(f"unknown backend '{name}'; choose one of {', '.join(BACKENDS)}")
    return BACKEND_SPECS[name]


def make_backend(name: str, **options) -> Backend:
    """The backend called ``name`` built with ``options`` (see each backend's class)."""
    return backend_spec(name).build(**options)
