"""A forward for BERT sequence classifiers that skips work the logits never see.

``BertForSequenceClassification`` reads only the [CLS] row of the last encoder layer (the
pooler takes ``hidden[:, 0]``). In that layer every other row still needs its keys and
values, because [CLS] attends to them, but its query, attention output and feed-forward
block are computed and thrown away: about 10/12 of one layer's matrix products, and in
fine-tuning their backward pass too (their gradients are zero). Here the last layer
computes them for [CLS] alone. Every other step calls the model's own modules, so the
logits equal ``model(**inputs).logits`` up to float rounding (tests check 1e-5), and so
do the gradients; in training mode dropout is applied where the model applies it.

Models of other architectures, or BERT configurations this does not cover, go through the
model's own forward: :func:`supports_cls_forward` says which.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def supports_cls_forward(model: torch.nn.Module) -> bool:
    """True for an encoder-only ``BertForSequenceClassification`` with absolute positions."""
    from transformers import BertForSequenceClassification

    if not isinstance(model, BertForSequenceClassification) or model.bert.pooler is None:
        return False
    config = model.config
    return (not config.is_decoder and not getattr(config, "add_cross_attention", False)
            and getattr(config, "position_embedding_type", "absolute") == "absolute"
            and config.num_hidden_layers >= 1)


def cls_forward_logits(model: torch.nn.Module, input_ids: torch.Tensor,
                       attention_mask: torch.Tensor,
                       token_type_ids: torch.Tensor | None = None) -> torch.Tensor:
    """Logits (B, C) of a model for which :func:`supports_cls_forward` holds.

    ``input_ids``, ``attention_mask`` and ``token_type_ids`` are (B, L) integer tensors,
    padded on the right; every row has at least one real token. In training mode the
    model's dropout applies (attention probabilities, and before the classifier).
    """
    bert = model.bert
    lengths = attention_mask.sum(dim=1)
    width = input_ids.shape[1]
    # No mask at all when no row is padded lets SDPA pick its fastest kernel.
    keep = (None if int(lengths.min()) == width
            else attention_mask.bool()[:, None, None, :])
    hidden = bert.embeddings(input_ids=input_ids, token_type_ids=token_type_ids)
    layers = bert.encoder.layer
    for index, layer in enumerate(layers):
        hidden = _layer_forward(layer, hidden, keep, cls_only=index == len(layers) - 1)
    return model.classifier(model.dropout(bert.pooler(hidden)))


def _layer_forward(layer: torch.nn.Module, hidden: torch.Tensor, keep: torch.Tensor | None,
                   *, cls_only: bool) -> torch.Tensor:
    """One ``BertLayer``: (B, L, H) in, (B, L, H) out, or (B, 1, H) with ``cls_only``."""
    attention = layer.attention.self
    batch, width, size = hidden.shape
    heads, head_size = attention.num_attention_heads, attention.attention_head_size
    queries_from = hidden[:, :1] if cls_only else hidden

    def split_heads(projected: torch.Tensor) -> torch.Tensor:
        return projected.view(batch, -1, heads, head_size).transpose(1, 2)

    context = F.scaled_dot_product_attention(
        split_heads(attention.query(queries_from)), split_heads(attention.key(hidden)),
        split_heads(attention.value(hidden)), attn_mask=keep, scale=attention.scaling,
        dropout_p=attention.dropout.p if attention.training else 0.0)
    context = context.transpose(1, 2).reshape(batch, -1, size)
    attended = layer.attention.output(context, queries_from)
    return layer.output(layer.intermediate(attended), attended)
