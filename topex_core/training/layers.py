"""The layers of a sequence classifier that TopEx reaches into: the head that writes the
logits, the stack of encoder layers (to freeze the lowest during fine-tuning), and an
int8 copy for cheaper forward passes on a CPU without fast bfloat16."""

from __future__ import annotations

import copy
import warnings

import torch

from topex_core.errors import ModelError, SettingsError


def head_of(model: torch.nn.Module, classes: int) -> torch.nn.Linear:
    """The last linear layer with ``classes`` outputs: the one that writes the logits."""
    layers = [module for module in model.modules()
              if isinstance(module, torch.nn.Linear) and module.out_features == classes]
    if not layers:
        raise ModelError("the model has no final linear layer with one output per class; "
                         "head-only retraining is not possible, use full mode")
    return layers[-1]


def encoder_layers(model: torch.nn.Module) -> torch.nn.ModuleList | None:
    """The stack of transformer layers of an encoder classifier (BERT, RoBERTa, DeBERTa,
    ELECTRA: ``encoder.layer``; DistilBERT: ``transformer.layer``), found as the module
    list with ``num_hidden_layers`` entries; None for a model of another shape."""
    count = getattr(model.config, "num_hidden_layers", None)
    for module in model.base_model.modules():
        if isinstance(module, torch.nn.ModuleList) and len(module) == count:
            return module
    return None


def freeze_lowest(model: torch.nn.Module, layers: int) -> int:
    """Stop gradients to the embeddings and the ``layers`` lowest encoder layers; returns
    how many layers are frozen (0 when ``layers`` is 0). A model whose layers cannot be
    found is a SettingsError: freezing was asked for and would silently not happen."""
    if layers == 0:
        return 0
    stack = encoder_layers(model)
    if stack is None:
        raise SettingsError(f"cannot find the encoder layers of {type(model).__name__} to "
                            "freeze; use freeze_layers 0")
    frozen = min(layers, len(stack))
    embeddings = getattr(model.base_model, "embeddings", None)
    for module in [embeddings, *stack[:frozen]]:
        if module is not None:
            module.requires_grad_(False)
    return frozen


def int8_copy(model: torch.nn.Module, head: torch.nn.Linear, *, features: bool
              ) -> tuple[torch.nn.Module, torch.nn.Linear | None]:
    """(a copy of ``model`` whose linear layers, ``head`` aside, are dynamically quantised
    to int8, the copy's head when ``features`` are wanted).

    Weights int8, activations quantised per batch (``torch.ao.quantization.
    quantize_dynamic``, fbgemm on x86). The head stays float32: its weights are what
    head-only retraining fits, and the features it reads are the same in both. Made again
    at each call, so that it never lags the model it copies."""
    linear_names = {name for name, module in model.named_modules()
                    if isinstance(module, torch.nn.Linear) and module is not head}
    head_name = next(name for name, module in model.named_modules() if module is head)
    with warnings.catch_warnings():
        # torch.ao's eager quantisation is marked deprecated in favour of torchao, another
        # package; it is still torch's own int8 path on CPU in the pinned 2.13.0
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*quantized tensor creation",
                                category=UserWarning)
        quantized = torch.ao.quantization.quantize_dynamic(copy.deepcopy(model), linear_names,
                                                           dtype=torch.qint8)
    return quantized, quantized.get_submodule(head_name) if features else None
