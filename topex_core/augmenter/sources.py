"""The dataset rows a target's prompts start from: the few-shot examples of free
generation (``choose_examples``), the misclassified rows a rewrite turns into new texts of
the target's label (``rewrite_sources``), and the region's rows of other labels a balanced
round rewrites into texts of their own labels (``complement_sources``). Each takes the
target's ``augment.TargetContext`` and the ``augment.AugmentRequest``."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from topex_core.augmenter.prompts import Example, select_examples
from topex_core.errors import SettingsError

if TYPE_CHECKING:  # augment builds prompts from these rows
    from topex_core.augmenter.augment import AugmentRequest, TargetContext


def choose_examples(context: TargetContext, request: AugmentRequest) -> list[Example]:
    """The few-shot examples: ``request.example_ids`` when given, else round(λ·k) rows of
    the target with the target label (its mistakes, when it has some: a slice holds correct
    rows too) and the rest correct rows of the target label elsewhere."""
    label = request.label or context.majority_label
    points = context.points
    in_target = np.zeros(len(points), bool)
    in_target[context.target.rows] = True
    if request.example_ids is not None:
        by_position = pd.Series(np.arange(len(points)), index=points["id"].to_numpy())
        unknown = sorted(set(request.example_ids) - set(by_position.index))
        if unknown:
            raise SettingsError(f"example rows not in the dataset: {unknown[:5]}")
        return [Example(*_row(points.iloc[by_position[row_id]]),
                        source="cluster" if in_target[by_position[row_id]] else "target")
                for row_id in request.example_ids]
    with_label = (points["label"].astype(str) == label).to_numpy()
    correct = points["correct"].to_numpy(bool)
    cluster_rows = points[in_target & with_label & ~correct]
    if cluster_rows.empty:
        cluster_rows = points[in_target & with_label]
    if cluster_rows.empty:
        cluster_rows = points[in_target]
    target_rows = points[~in_target & correct & with_label]
    return select_examples([_row(r) for _, r in cluster_rows.iterrows()],
                           [_row(r) for _, r in target_rows.iterrows()], k=request.shots,
                           mix_ratio=request.mix_ratio, seed=request.sampling.seed)


def rewrite_sources(context: TargetContext, request: AugmentRequest) -> list[Example]:
    """The rows a rewrite starts from: ``request.example_ids`` when given, else up to n of
    the target's misclassified rows with the target label in a seeded order (its rows with
    that label when none is misclassified)."""
    if request.example_ids is not None:
        return choose_examples(context, request)
    label = request.label or context.majority_label
    rows = context.rows
    with_label = rows[rows["label"].astype(str) == label]
    mistakes = with_label[~with_label["correct"].to_numpy(bool)]
    chosen = mistakes if len(mistakes) else with_label
    if chosen.empty:
        raise SettingsError(f"the {context.target.noun} has no row labelled '{label}' to "
                            "rewrite; choose another label or free generation")
    order = np.random.default_rng(request.sampling.seed).permutation(len(chosen))[:request.n]
    return [Example(*_row(chosen.iloc[i]), source="rewrite") for i in order]


def complement_sources(context: TargetContext, request: AugmentRequest) -> list[Example]:
    """The rows a balanced round rewrites: ``request.example_ids`` when given, else up to n
    of the region's pool rows whose true label is not the target's (its reach: the rows
    holding a slice's terms, or a cluster's rows), misclassified first, each group in a
    seeded order."""
    if request.example_ids is not None:
        return choose_examples(context, request)
    label = request.label or context.majority_label
    rows = context.points.iloc[context.target.reach(test=False)]
    others = rows[rows["label"].astype(str) != label]
    if others.empty:
        raise SettingsError(f"every row of the {context.target.noun} is labelled '{label}': "
                            "it has no complement to rewrite")
    rng = np.random.default_rng(request.sampling.seed)
    wrong = ~others["correct"].to_numpy(bool)
    order = np.r_[rng.permutation(np.flatnonzero(wrong)), rng.permutation(np.flatnonzero(~wrong))]
    return [Example(*_row(others.iloc[i]), source="complement") for i in order[:request.n]]


def _row(row: pd.Series) -> tuple[str, str | None, int]:
    pair = row.get("text_pair")
    return str(row["text"]), (str(pair) if isinstance(pair, str) else None), int(row["id"])

