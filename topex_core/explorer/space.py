"""The space the explorer clusters, maps and scores in.

- ``logits``: the normalised logits (N, C) in [-1, 1], TopEx's space (§2.1).
- ``features``: the fine-tuned model's own sentence features, the vector its final layer
  reads (N, H): each row L2-normalised, then reduced to ``FEATURE_DIMENSIONS`` by a PCA
  fitted on the pool.
- ``both``: the two side by side, each block scaled to a total variance of 1 on the pool,
  so that neither outweighs the other by its number of dimensions or its units.

With two classes the normalised logits are one-dimensional (the two coordinates move
together): clusters are confidence bands and t-SNE draws a line. The features give the map
the texts' structure, but the model's features separate its *predicted* classes, so its
mistakes sit inside the blob of the class it chose: on two two-class sets, error clusters
in features or ``both`` were purer and better named but held fewer mistakes than in the
logits (README, "Choice of space"), so ``logits`` stays the default for every task.
Features and ``both`` need the run's own classifier; imported predictions have logits only.

Features are always the *base* model's (cached per run): a retrained model's rows are
placed with their new logits and their base features, so in the ``features`` space a row
stays where its text is and in ``both`` it moves only as far as its logits changed. After
a head round that is exact (the encoder is frozen); after a full round it reads "where
the text was for the model we started from".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from topex_core.errors import RunError, SettingsError
from topex_core.exploredir import read_space, write_space

SPACES = ("logits", "features", "both")
FEATURE_DIMENSIONS = 16


def check_space(space: str, *, has_features: bool) -> str:
    """``space`` itself; SettingsError for an unknown name or a feature space on a run
    without its own model."""
    if space not in SPACES:
        raise SettingsError(f"unknown space '{space}'; choose one of {', '.join(SPACES)}")
    if space != "logits" and not has_features:
        raise SettingsError(f"the '{space}' space needs the run's own model, and this run's "
                            "predictions were imported; use the logits")
    return space


def needs_features(space: str) -> bool:
    return space != "logits"


@dataclass(frozen=True)
class FittedSpace:
    """How rows become points: ``feature_mean`` (H,) and ``feature_components`` (K, H) of
    the PCA over L2-normalised features (empty for ``logits``), and the factors that scale
    each block to unit total variance on the pool (1.0 where the block is alone)."""

    space: str
    feature_mean: np.ndarray
    feature_components: np.ndarray
    logit_scale: float = 1.0
    feature_scale: float = 1.0

    def points(self, normalised: np.ndarray, features: np.ndarray | None = None) -> np.ndarray:
        """(N, D) float64 points for normalised logits (N, C) and features (N, H)."""
        normalised = np.asarray(normalised, dtype=np.float64)
        if self.space == "logits":
            return normalised
        if features is None or len(features) != len(normalised):
            raise RunError(f"the '{self.space}' space needs the model's features of every row")
        reduced = self.feature_scale * (
            (_unit_rows(features) - self.feature_mean) @ self.feature_components.T)
        if self.space == "features":
            return reduced
        return np.hstack([self.logit_scale * normalised, reduced])

    def save(self, run_dir: Path) -> None:
        """Write ``space.npz``; in the logits space there is nothing to keep, and a file
        left by an earlier exploration in another space is removed."""
        write_space(run_dir, None if self.space == "logits" else {
            "space": np.array(self.space), "feature_mean": self.feature_mean,
            "feature_components": self.feature_components,
            "scales": np.array([self.logit_scale, self.feature_scale])})


def fit_space(space: str, normalised: np.ndarray,
              features: np.ndarray | None = None) -> FittedSpace:
    """Fit ``space`` on the pool: normalised logits (N, C), features (N, H) unless logits."""
    if space == "logits":
        return FittedSpace(space, np.empty(0), np.empty((0, 0)))
    from sklearn.decomposition import PCA

    if features is None or len(features) != len(normalised):
        raise RunError(f"the '{space}' space needs the model's features of every row")
    unit = _unit_rows(features)
    dimensions = max(1, min(FEATURE_DIMENSIONS, *unit.shape))
    pca = PCA(n_components=dimensions, random_state=0).fit(unit)
    logit_scale = _unit_variance_scale(np.asarray(normalised)) if space == "both" else 1.0
    return FittedSpace(space, pca.mean_, pca.components_, logit_scale=logit_scale,
                       feature_scale=_unit_variance_scale(pca.transform(unit)))


def load_space(run_dir: Path, space: str) -> FittedSpace:
    """The space the run was explored in (``logits`` needs no file)."""
    if space == "logits":
        return fit_space("logits", np.empty((0, 0)))
    arrays = read_space(run_dir)
    try:
        logit_scale, feature_scale = (float(value) for value in arrays["scales"])
        return FittedSpace(str(arrays["space"]), arrays["feature_mean"],
                           arrays["feature_components"], logit_scale, feature_scale)
    except (KeyError, ValueError) as error:
        raise RunError(f"{run_dir}: the explorer's space is missing or corrupt ({error}); "
                       "run 'topex explore' again") from None


def _unit_rows(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    norms = np.linalg.norm(features, axis=1, keepdims=True)
    return features / np.maximum(norms, 1e-12)


def _unit_variance_scale(block: np.ndarray) -> float:
    """1 / sqrt(total variance): the block's mean squared distance to its mean becomes 1."""
    total = float(np.var(block, axis=0).sum())
    return 1.0 / np.sqrt(total) if total > 1e-12 else 1.0
