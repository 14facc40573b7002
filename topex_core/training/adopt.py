"""A fine-tuned sequence classifier used as it is (``topex train --no-fine-tune``).

The model's classes (``config.id2label``) are matched to the dataset's labels: exactly,
then ignoring case and spaces, or through an explicit map (data label → model label).
Its head is then reordered so that output i is the dataset's label i, and the model is
saved like a fine-tuned one: every later step (logits, explorer, checks, head or full
retraining, which then starts from this model) reads it the same way. Weights are read
from safetensors only, never from a pickle checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from topex_core.errors import ModelError, SettingsError
from topex_core.training import classifier as clf
from topex_core.training import tokens


def parse_label_map(text: str) -> dict[str, str]:
    """``"a=POSITIVE,b=NEGATIVE"`` → {data label: model label}; SettingsError when malformed."""
    mapping: dict[str, str] = {}
    for part in (piece.strip() for piece in text.split(",")):
        data_label, equals, model_label = part.partition("=")
        if not part or not equals or not data_label.strip() or not model_label.strip():
            raise SettingsError(f"--label-map: expected data=MODEL pairs separated by commas, "
                                f"got '{part or text}'")
        if data_label.strip() in mapping:
            raise SettingsError(f"--label-map: '{data_label.strip()}' is mapped twice")
        mapping[data_label.strip()] = model_label.strip()
    return mapping


def match_labels(model_labels: Sequence[str], data_labels: Sequence[str],
                 label_map: Mapping[str, str] | None = None) -> list[int]:
    """For each data label (in order), the index of the model's class it is.

    ModelError with one line naming both label sets when the counts differ, a label has
    no match, or two data labels land on one class."""
    model_labels, data_labels = list(map(str, model_labels)), list(map(str, data_labels))
    both = f"the model's: {', '.join(model_labels)}; the data's: {', '.join(data_labels)}"
    if len(model_labels) != len(data_labels):
        raise ModelError(f"the model has {len(model_labels)} classes and the data "
                         f"{len(data_labels)} labels ({both})")
    if label_map:
        unknown = sorted(set(label_map) - set(data_labels))
        if unknown:
            raise SettingsError(f"--label-map names labels the data does not have: "
                                f"{', '.join(unknown)} ({both})")
    exact = {label: i for i, label in enumerate(model_labels)}
    loose = {_loose(label): i for i, label in enumerate(model_labels)}
    order, missing = [], []
    for label in data_labels:
        wanted = (label_map or {}).get(label, label)
        index = exact.get(wanted, loose.get(_loose(wanted)))
        if index is None:
            missing.append(label)
        order.append(index)
    if missing:
        raise ModelError(f"no model class for the data's label{'s' * (len(missing) > 1)} "
                         f"{', '.join(missing)} ({both}); map them with --label-map "
                         "data=MODEL,…")
    if len(set(order)) != len(order):
        raise ModelError(f"two data labels map to one model class ({both})")
    return order


def adopt_classifier(model: str, data_labels: Sequence[str], texts: Sequence[str],
                     text_pairs: Sequence[str] | None, *,
                     label_map: Mapping[str, str] | None = None,
                     max_length: int | None = None,
                     truncation: str = "head") -> clf.Classifier:
    """The classifier ``model`` (a Hugging Face id or local directory) with output i
    reordered to be ``data_labels[i]``; ``max_length`` None is chosen from ``texts`` within
    what the model reads; a longer text is cut the ``truncation`` way."""
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer
    from transformers.utils import logging as hf_logging

    _refuse_pickles(model)
    hf_logging.disable_progress_bar()
    try:
        config = AutoConfig.from_pretrained(model)
        tokenizer = AutoTokenizer.from_pretrained(model)
        network = AutoModelForSequenceClassification.from_pretrained(model, use_safetensors=True)
    except (OSError, ValueError) as error:
        raise ModelError(f"cannot load the classifier '{model}': "
                         f"{' '.join(str(error).split())[:300]}") from None
    model_labels = [config.id2label[i] for i in range(config.num_labels)]
    order = match_labels(model_labels, data_labels, label_map)
    classifier = clf.Classifier(model=network.to(clf.pick_device()).eval(), tokenizer=tokenizer,
                                label_names=list(data_labels), max_length=tokens.MAX_LENGTH_CAP,
                                truncation=truncation)
    head = clf.head_layer(classifier)
    with torch.no_grad():
        head.weight.copy_(head.weight[order].clone())
        if head.bias is not None:
            head.bias.copy_(head.bias[order].clone())
    network.config.id2label = dict(enumerate(data_labels))
    network.config.label2id = {label: i for i, label in enumerate(data_labels)}
    cap = tokens.length_cap(truncation)
    readable = min(cap, getattr(config, "max_position_embeddings", cap) or cap)
    classifier.max_length = (max_length if max_length is not None
                             else tokens.choose_max_length(tokenizer, texts, text_pairs,
                                                        cap=readable))
    return classifier


def _refuse_pickles(model: str) -> None:
    directory = Path(model)
    if not directory.is_dir():
        return
    if not any(directory.glob("*.safetensors")):
        pickles = sorted(p.name for p in directory.iterdir()
                         if p.suffix in (".bin", ".pt", ".pth", ".ckpt"))
        found = f" (it has {', '.join(pickles)})" if pickles else ""
        raise ModelError(f"{directory}: no safetensors weights{found}; TopEx never loads pickle "
                         "checkpoints: save the model with save_pretrained(..., "
                         "safe_serialization=True)")


def _loose(label: str) -> str:
    return "".join(str(label).lower().split())
