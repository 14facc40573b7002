"""Fine-tuning a BERT-family sequence classifier and taking its logits.

Follows the TopEx protocol: a seeded random subset of the training pool (default 1,000
rows) is used to fine-tune for 1–3 epochs, then logits (N, C) are predicted for every row
of the pool. Models are saved and loaded with safetensors only.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from topex_core.data.dataset import TextDataset
from topex_core.errors import ModelError, SettingsError
from topex_core.timing import Progress, TimeLeft
from topex_core.train_config import (
    LEGACY_SETTINGS,
    TrainConfig,
)
from topex_core.training import layers, tokens
from topex_core.training.cls_forward import cls_forward_logits, supports_cls_forward
from topex_core.training.settings import check_precision, epochs_for, frozen_layers_for

META_FILE = "topex_classifier.json"



@dataclass
class Classifier:
    """A fine-tuned model with what is needed to use it again."""

    model: torch.nn.Module
    tokenizer: object
    label_names: list[str]
    max_length: int
    precision: str = "float32"  # of the forward pass; "bfloat16" runs it under autocast
    truncation: str = "head"  # what a longer text keeps (TrainConfig.truncation)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device


def pick_device() -> torch.device:
    """CUDA when present, else CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def load_backbone(backbone: str, label_names: Sequence[str], *, seed: int) -> Classifier:
    """A sequence classifier on ``backbone`` (HF id or local dir) with a fresh, seeded head."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    torch.manual_seed(seed)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the "newly initialised head" warning is expected here
    hf_logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(backbone)
        model = AutoModelForSequenceClassification.from_pretrained(
            backbone, num_labels=len(label_names), use_safetensors=True,
            ignore_mismatched_sizes=True,  # a backbone with another head gets a fresh one
            id2label=dict(enumerate(label_names)),
            label2id={name: i for i, name in enumerate(label_names)},
        )
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load backbone '{backbone}': {' '.join(str(error).split())[:300]}"
                         ) from None
    finally:
        hf_logging.set_verbosity(verbosity)
    return Classifier(model=model.to(pick_device()), tokenizer=tokenizer,
                      label_names=list(label_names), max_length=tokens.MAX_LENGTH_CAP)


def training_positions(pool_size: int, train_size: int, seed: int) -> np.ndarray:
    """Sorted positions of the seeded random training subset (the whole pool if smaller)."""
    if train_size >= pool_size:
        return np.arange(pool_size, dtype=np.int64)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(pool_size, size=train_size, replace=False)).astype(np.int64)


def fine_tune(dataset: TextDataset, config: TrainConfig, *,
              progress: Progress | None = None) -> Classifier:
    """Fine-tune ``config.backbone`` on all rows of ``dataset`` (already the training subset).

    AdamW with linear warm-up and decay; batches are grouped by length inside shuffled
    windows so that padding stays small without losing randomness. On long texts BERT
    classifiers compute their last layer for [CLS] alone (``cls_forward``: the same
    gradients, fewer FLOPs). The texts are tokenised once (their lengths choose the
    budget, then they are cut). Progress messages carry the time left once it can be
    estimated.
    """
    config = config.resolved()
    config.validate()
    classifier = load_backbone(config.backbone, dataset.label_names, seed=config.seed)
    classifier.truncation = config.truncation
    whole = (tokens.tokenize_whole(classifier.tokenizer, dataset.texts)
             if dataset.text_pairs is None else None)  # tokenised once: lengths, then cut
    classifier.max_length = _budget(classifier, config, dataset, whole)
    model, device = classifier.model, classifier.device
    layers.freeze_lowest(model, frozen_layers_for(config))
    encoded = _encode(classifier, dataset.texts, dataset.text_pairs, whole=whole)
    labels = torch.as_tensor(dataset.labels, dtype=torch.long)
    rng = np.random.default_rng(config.seed)
    epochs = epochs_for(config, classifier.max_length)
    total_steps = math.ceil(len(dataset) / config.batch_size) * epochs
    optimizer, scheduler = _optimiser(model, config, total_steps)
    model.train()
    # long texts only: the [CLS]-only path draws other dropout masks, so a short-text run
    # (cheap to fine-tune) keeps the trajectory, and the model, earlier versions gave it
    cls_only = supports_cls_forward(model) and classifier.max_length > tokens.LONG_TEXT_TOKENS
    logits_of = (partial(cls_forward_logits, model) if cls_only
                 else lambda **inputs: model(**inputs).logits)
    step, time_left = 0, TimeLeft()
    for epoch in range(epochs):
        for batch in tokens.length_grouped_batches(encoded["length"], config.batch_size, rng):
            inputs = _collate(classifier, encoded, batch, device)
            with torch.autocast(device.type, dtype=torch.bfloat16,
                                enabled=config.train_precision == "bfloat16"):
                scores = logits_of(**inputs)
            loss = torch.nn.functional.cross_entropy(scores.float(), labels[batch].to(device))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(
                [p for p in model.parameters() if p.requires_grad], 1.0)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if progress is not None:
                left = time_left.left(step / total_steps)
                progress(step / total_steps,
                         f"fine-tuning: epoch {epoch + 1}/{epochs}, loss "
                         f"{loss.item():.3f}{f', {left}' if left else ''}")
    model.eval()
    model.requires_grad_(True)  # frozen or not, the saved model is a whole model again
    return classifier


def _budget(classifier: Classifier, config: TrainConfig, dataset: TextDataset,
            whole: dict | None) -> int:
    """``config.max_length``, or the budget chosen from the texts' token lengths, never
    above the positions the backbone has."""
    if config.max_length is not None:
        return config.max_length
    cap = min(tokens.length_cap(config.truncation),
              getattr(classifier.model.config, "max_position_embeddings", None) or 10**6)
    if whole is not None:
        return tokens.length_budget(np.array([len(ids) for ids in whole["input_ids"]]), cap)
    return tokens.choose_max_length(classifier.tokenizer, dataset.texts, dataset.text_pairs,
                                    cap=cap)


def _optimiser(model: torch.nn.Module, config: TrainConfig, total_steps: int
               ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LambdaLR]:
    """AdamW over the trained parameters, with linear warm-up then linear decay to 0."""
    optimizer = torch.optim.AdamW(_parameter_groups(model, config.weight_decay),
                                  lr=config.learning_rate)
    warmup = max(1, int(config.warmup_ratio * total_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: min((step + 1) / warmup,
                                    max(0.0, (total_steps - step) / max(1, total_steps - warmup))))
    return optimizer, scheduler


def predict_logits(classifier: Classifier, texts: Sequence[str],
                   text_pairs: Sequence[str] | None = None, *, batch_size: int = 64,
                   progress: Progress | None = None) -> np.ndarray:
    """Logits (N, C) float32 for ``texts`` (and pairs), in input order.

    Rows are sorted by token length so each batch pads to a similar length; that, plus
    ``inference_mode``, one batched tokenisation and, for BERT classifiers, a last layer
    computed for [CLS] alone (:mod:`topex_core.training.cls_forward`), is what makes this faster
    than a ``transformers.pipeline`` over the same model. With ``classifier.precision``
    "bfloat16" the matrix products run in bfloat16 (faster on CPUs with AMX and on GPUs);
    logits stay float32 but move by about 1e-2.
    """
    return _forward(classifier, texts, text_pairs, batch_size, progress, features=False)[0]


def predict_features(classifier: Classifier, texts: Sequence[str],
                     text_pairs: Sequence[str] | None = None, *, batch_size: int = 64,
                     progress: Progress | None = None) -> tuple[np.ndarray, np.ndarray]:
    """(features (N, H) float32, logits (N, C) float32): features are what the final
    linear layer (``head_layer``) receives, so ``features @ W.T + b`` gives the logits."""
    logits, features = _forward(classifier, texts, text_pairs, batch_size, progress,
                                features=True)
    return features, logits


def softmax(logits: np.ndarray) -> np.ndarray:
    """Probabilities (N, C) from logits (N, C), computed stably."""
    exponentials = np.exp(logits - logits.max(axis=1, keepdims=True))
    return exponentials / exponentials.sum(axis=1, keepdims=True)


def head_layer(classifier: Classifier) -> torch.nn.Linear:
    """The last linear layer with C outputs: the one that writes the logits."""
    return layers.head_of(classifier.model, len(classifier.label_names))


def save_classifier(classifier: Classifier, directory: Path) -> None:
    """Weights as safetensors, config, tokenizer, label names and max length in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    classifier.model.save_pretrained(directory, safe_serialization=True)
    classifier.tokenizer.save_pretrained(directory)
    meta = {"label_names": classifier.label_names, "max_length": classifier.max_length,
            "truncation": classifier.truncation}
    (directory / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")


def load_classifier(directory: Path) -> Classifier:
    """Load what :func:`save_classifier` wrote; refuses anything but safetensors weights."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    if not (directory / "model.safetensors").is_file() or not meta_path.is_file():
        raise ModelError(f"{directory}: not a saved TopEx classifier "
                         f"(model.safetensors or {META_FILE} missing)")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        label_names, max_length = list(meta["label_names"]), int(meta["max_length"])
        truncation = str(meta.get("truncation", LEGACY_SETTINGS["truncation"]))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError) as error:
        raise ModelError(f"{meta_path}: corrupt classifier metadata ({error})") from None
    classifier = load_backbone(str(directory), label_names, seed=0)
    classifier.max_length, classifier.truncation = max_length, truncation
    classifier.model.eval()
    return classifier


def set_cpu_threads() -> int:
    """Use every core for intra-op parallelism (torch defaults to physical cores only)."""
    threads = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    torch.set_num_threads(max(1, threads or 1))
    return torch.get_num_threads()


def _forward(classifier: Classifier, texts: Sequence[str], text_pairs: Sequence[str] | None,
             batch_size: int, progress: Progress | None, *,
             features: bool) -> tuple[np.ndarray, np.ndarray | None]:
    classes = len(classifier.label_names)
    if len(texts) == 0:
        width = head_layer(classifier).in_features if features else 0
        return np.zeros((0, classes), np.float32), np.zeros((0, width), np.float32)
    device = classifier.device
    classifier.model.eval()
    model, head = _inference_model(classifier, features=features)
    encoded = _encode(classifier, texts, text_pairs)
    order = np.argsort(encoded["length"], kind="stable")
    logits = np.empty((len(texts), classes), dtype=np.float32)
    captured: list[torch.Tensor] = []
    hook = (head.register_forward_hook(
        lambda module, inputs, output: captured.append(inputs[0])) if features else None)
    logits_of = (partial(cls_forward_logits, model) if supports_cls_forward(model)
                 else lambda **inputs: model(**inputs).logits)
    collected, time_left = None, TimeLeft()
    try:
        with torch.inference_mode(), torch.autocast(
                device.type, dtype=torch.bfloat16,
                enabled=check_precision(classifier.precision) == "bfloat16"):
            for start in range(0, len(order), batch_size):
                batch = order[start:start + batch_size]
                logits[batch] = logits_of(**_collate(classifier, encoded, batch,
                                                     device)).float().cpu().numpy()
                if features:
                    if collected is None:
                        collected = np.empty((len(texts), captured[-1].shape[-1]), np.float32)
                    collected[batch] = captured.pop().float().cpu().numpy()
                if progress is not None:
                    done = min(1.0, (start + len(batch)) / len(order))
                    left = time_left.left(done)
                    progress(done, f"predicting logits{f', {left}' if left else ''}")
    finally:
        if hook is not None:
            hook.remove()
    return logits, collected


def _inference_model(classifier: Classifier, *, features: bool
                     ) -> tuple[torch.nn.Module, torch.nn.Linear | None]:
    """(the model the forward passes run, its head layer when ``features`` are wanted):
    the classifier's own, or for "int8" a quantised copy (``layers.int8_copy``)."""
    head = head_layer(classifier) if features else None
    if check_precision(classifier.precision) != "int8":
        return classifier.model, head
    if classifier.device.type != "cpu":
        raise SettingsError("int8 forward passes run on the CPU only; use float32 or "
                            "bfloat16 on a GPU")
    return layers.int8_copy(classifier.model, head_layer(classifier), features=features)


def _encode(classifier: Classifier, texts: Sequence[str], text_pairs: Sequence[str] | None,
            *, whole: dict | None = None) -> dict[str, list | np.ndarray]:
    """``tokens.encode`` with the classifier's tokenizer, budget and truncation."""
    return tokens.encode(classifier.tokenizer, texts, text_pairs,
                         max_length=classifier.max_length, truncation=classifier.truncation,
                         whole=whole)


def _collate(classifier: Classifier, encoded: dict, batch: np.ndarray,
             device: torch.device) -> dict[str, torch.Tensor]:
    lengths = encoded["length"][batch]
    width = int(lengths.max())
    pad_id = classifier.tokenizer.pad_token_id or 0
    input_ids = np.full((len(batch), width), pad_id, dtype=np.int64)
    token_type_ids = np.zeros((len(batch), width), dtype=np.int64)
    for row, position in enumerate(batch):
        input_ids[row, :lengths[row]] = encoded["input_ids"][position]
        token_type_ids[row, :lengths[row]] = encoded["token_type_ids"][position]
    attention_mask = (np.arange(width)[None, :] < lengths[:, None]).astype(np.int64)
    inputs = {"input_ids": input_ids, "attention_mask": attention_mask}
    if getattr(classifier.model.config, "type_vocab_size", 0) > 1:
        inputs["token_type_ids"] = token_type_ids
    return {name: torch.from_numpy(array).to(device) for name, array in inputs.items()}


def _parameter_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    decay, no_decay = [], []
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        (no_decay if parameter.ndim < 2 or "LayerNorm" in name else decay).append(parameter)
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": no_decay, "weight_decay": 0.0}]
