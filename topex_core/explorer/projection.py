"""2D maps of normalised logits: SparsePCA and t-SNE (openTSNE), kept for later models.

Both maps keep what they need to place new points into the SAME coordinates (SparsePCA's
components and mean; t-SNE's reference points and their embedding), so the logits of a
retrained model can be shown moving inside the map of the old one. They are saved as
plain arrays (``.npz`` without pickle) and JSON, never as pickled objects.

Placing points into the t-SNE map: a point equal (within ``SNAP_DISTANCE``) to a
reference point takes that point's coordinates, because openTSNE's ``transform``
re-optimises every point and would move even an unchanged one by several percent of the
map's width; a before/after view must show unchanged logits as unmoved. Other points go
through ``transform``. With fewer than ``MIN_TSNE_POINTS`` distinct rows, t-SNE is
meaningless and its map repeats the SparsePCA coordinates.

Without openTSNE installed, sklearn's ``TSNE`` fits the map, and new points are placed at
the inverse-distance-weighted mean of their ``FALLBACK_NEIGHBOURS`` nearest reference
points (sklearn's t-SNE has no ``transform``).

Large inputs: t-SNE is fitted on a seeded sample of at most ``tsne_max_fit`` points
(default 5,000) and the rest are placed with openTSNE's ``transform``. Measured on the
10,000-point demo: a full fit took 52 s, fit on 5,000 plus transform 12.7 s. Above
``TRANSFORM_MAX_POINTS`` points to place at once, ``transform`` (which optimises every
new point against the reference) gives way to the inverse-distance-weighted mean of each
point's ``FALLBACK_NEIGHBOURS`` nearest reference points, the start openTSNE's own
``prepare_partial`` takes, without the optimisation: a documented deviation, its
displacement against ``transform`` measured in ``bench/bench_explore.py`` (README).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from topex_core.errors import RunError
from topex_core.exploredir import read_maps, write_maps
from topex_core.timing import Progress

MAP_NAMES = ("sparse_pca", "tsne")
MIN_TSNE_POINTS = 8
# Barnes–Hut's accuracy and the optimisation's length (early exaggeration, then the rest),
# against openTSNE's 0.5 and 250 + 500 (with exact neighbours): fit and placement 2.1–2.6×
# faster on 4,600–10,000 real logits, each point's ten nearest neighbours kept in the map
# as often within 0.01 or more often; 100 + 250 instead of 150 + 350 fits 5,000 points in
# about 30% less time, those neighbours kept within 0.004 on AG News, TREC, HANS and
# movie-review sentences (docs: error clusters)
TSNE_THETA = 0.8
TSNE_ITERATIONS = (100, 250)
# a placed point's optimisation: 100 steps land within 0.0002 of the map's width (90th
# percentile) of openTSNE's 250, in 40% of the time; its start is already the median of
# its nearest reference points
PLACE_ITERATIONS = 100
SNAP_DISTANCE = 1e-6
FALLBACK_NEIGHBOURS = 10
TRANSFORM_MAX_POINTS = 20_000
SPARSE_PCA_MAX_FIT = 50_000  # SparsePCA's components are fitted on a seeded sample above this


@dataclass
class FittedMaps:
    """Arrays: components (2, C), mean (C,), reference (R, C), reference_coords (R, 2)."""

    components: np.ndarray
    mean: np.ndarray
    reference: np.ndarray
    reference_coords: np.ndarray
    perplexity: float
    seed: int
    ridge_alpha: float = 0.01
    _embedding: object = field(default=None, repr=False, compare=False)

    def transform(self, normalised: np.ndarray) -> dict[str, np.ndarray]:
        """Coordinates (N, 2) float32 in both maps for new normalised logits (N, C)."""
        points = np.asarray(normalised, dtype=np.float64)
        return {"sparse_pca": self._sparse_pca(points), "tsne": self._tsne(points)}

    def _sparse_pca(self, points: np.ndarray) -> np.ndarray:
        from sklearn.decomposition import SparsePCA

        model = SparsePCA(n_components=2, ridge_alpha=self.ridge_alpha)
        model.components_, model.mean_ = self.components, self.mean
        model.n_components_, model.n_features_in_ = 2, self.components.shape[1]
        # scikit-learn's ridge solve returns one row as a flat (2,) array
        return model.transform(points).reshape(len(points), 2).astype(np.float32)

    def _tsne(self, points: np.ndarray) -> np.ndarray:
        if not _enough_for_tsne(self.reference):
            return self._sparse_pca(points)
        from sklearn.neighbors import NearestNeighbors

        nearest = NearestNeighbors(n_neighbors=1).fit(self.reference)
        distance, index = nearest.kneighbors(points)
        placed = self.reference_coords[index[:, 0]].astype(np.float32)
        moved = distance[:, 0] > SNAP_DISTANCE
        if moved.any():
            placed[moved] = self._place(points[moved])
        return placed

    def _place(self, points: np.ndarray) -> np.ndarray:
        if len(points) > TRANSFORM_MAX_POINTS:
            return _nearest_average(self.reference, self.reference_coords, points)
        if self._embedding is None:
            self._embedding = _reference_embedding(self.reference, self.reference_coords,
                                                   self.perplexity, self.seed)
        if self._embedding is None:
            return _nearest_average(self.reference, self.reference_coords, points)
        return np.asarray(self._embedding.transform(points, n_iter=PLACE_ITERATIONS),
                          dtype=np.float32)


def fit_maps(normalised: np.ndarray, *, seed: int = 0, tsne_max_fit: int = 5_000,
             progress: Progress | None = None) -> tuple[dict[str, np.ndarray], FittedMaps]:
    """Fit both maps on ``normalised`` (N, C); return ({map name: (N, 2) float32}, maps).

    With fewer than ``MIN_TSNE_POINTS`` distinct rows the t-SNE map repeats SparsePCA's.
    SparsePCA's two components are fitted on a seeded sample of ``SPARSE_PCA_MAX_FIT`` rows
    when there are more (then every row is projected).
    """
    from sklearn.decomposition import SparsePCA

    points = np.asarray(normalised, dtype=np.float64)
    report = progress or (lambda fraction, message: None)
    report(0.0, "SparsePCA")
    rng = np.random.default_rng(seed)
    pca_sample = (rng.choice(len(points), SPARSE_PCA_MAX_FIT, replace=False)
                  if len(points) > SPARSE_PCA_MAX_FIT else slice(None))
    sparse_pca = SparsePCA(n_components=2, random_state=seed).fit(points[pca_sample])
    coords = {"sparse_pca": sparse_pca.transform(points).astype(np.float32)}
    if len(points) > tsne_max_fit:
        fit_positions = np.sort(rng.choice(len(points), tsne_max_fit, replace=False))
    else:
        fit_positions = np.arange(len(points))
    reference = points[fit_positions]
    perplexity = float(min(30.0, max(2.0, (len(reference) - 1) / 3)))
    maps = FittedMaps(components=sparse_pca.components_, mean=sparse_pca.mean_,
                      reference=reference.astype(np.float32),
                      reference_coords=np.zeros((len(reference), 2), np.float32),
                      perplexity=perplexity, seed=seed, ridge_alpha=sparse_pca.ridge_alpha)
    if not _enough_for_tsne(reference):
        maps.reference_coords = coords["sparse_pca"][fit_positions]
        coords["tsne"] = coords["sparse_pca"].copy()
        report(1.0, "maps done")
        return coords, maps
    report(0.05, f"t-SNE on {len(reference):,} points")
    maps.reference_coords, maps._embedding = _fit_tsne(reference, perplexity, seed)
    tsne = np.empty((len(points), 2), dtype=np.float32)
    tsne[fit_positions] = maps.reference_coords
    rest = np.setdiff1d(np.arange(len(points)), fit_positions)
    if len(rest):
        report(0.6, f"placing {len(rest):,} more points into the t-SNE map")
        tsne[rest] = maps._tsne(points[rest])
    coords["tsne"] = tsne
    report(1.0, "maps done")
    return coords, maps


def save_maps(maps: FittedMaps, run_dir: Path) -> None:
    write_maps(run_dir, {"components": maps.components, "mean": maps.mean,
                         "reference": maps.reference,
                         "reference_coords": maps.reference_coords},
               {"perplexity": maps.perplexity, "seed": maps.seed,
                "ridge_alpha": maps.ridge_alpha})


def load_maps(run_dir: Path) -> FittedMaps:
    """Maps saved by :func:`save_maps`; RunError when missing or corrupt."""
    arrays, settings = read_maps(run_dir)
    try:
        return FittedMaps(**{name: arrays[name] for name in
                             ("components", "mean", "reference", "reference_coords")},
                          perplexity=float(settings["perplexity"]), seed=int(settings["seed"]),
                          ridge_alpha=float(settings["ridge_alpha"]))
    except (KeyError, TypeError, ValueError) as error:
        raise RunError(f"{run_dir}: fitted maps missing or corrupt ({error}); "
                       "run 'topex explore' again") from None


def _enough_for_tsne(reference: np.ndarray) -> bool:
    return len(np.unique(reference, axis=0)) >= MIN_TSNE_POINTS


def _fit_tsne(reference: np.ndarray, perplexity: float, seed: int,
              ) -> tuple[np.ndarray, object | None]:
    """(coordinates (R, 2) float32, the openTSNE embedding or None under the fallback)."""
    try:
        from openTSNE import TSNE
    except ImportError:
        from sklearn.manifold import TSNE as SklearnTSNE

        coords = SklearnTSNE(perplexity=perplexity, init="pca", random_state=seed
                             ).fit_transform(reference)
        return coords.astype(np.float32), None
    embedding = TSNE(perplexity=perplexity, random_state=seed,
                     early_exaggeration_iter=TSNE_ITERATIONS[0], n_iter=TSNE_ITERATIONS[1],
                     neighbors="exact", verbose=False, **_optimiser_settings()).fit(reference)
    return np.asarray(embedding, dtype=np.float32), embedding


def _nearest_average(reference: np.ndarray, reference_coords: np.ndarray,
                     points: np.ndarray) -> np.ndarray:
    from sklearn.neighbors import NearestNeighbors

    neighbours = min(FALLBACK_NEIGHBOURS, len(reference))
    distance, index = NearestNeighbors(n_neighbors=neighbours).fit(reference).kneighbors(points)
    weights = 1.0 / np.maximum(distance, SNAP_DISTANCE)
    weights /= weights.sum(axis=1, keepdims=True)
    return (reference_coords[index] * weights[:, :, None]).sum(axis=1).astype(np.float32)


def _reference_embedding(reference: np.ndarray, reference_coords: np.ndarray,
                         perplexity: float, seed: int):
    """Rebuild an openTSNE embedding from saved arrays so ``transform`` works (None
    without openTSNE)."""
    try:
        from openTSNE import TSNEEmbedding
        from openTSNE.affinity import PerplexityBasedNN
    except ImportError:
        return None

    # exact neighbours: on the ≤ tsne_max_fit reference points a tree query takes 0.3 s,
    # where the approximate index took 3–4 s to build on 2 cores
    affinities = PerplexityBasedNN(reference.astype(np.float64), perplexity=perplexity,
                                   method="exact", n_jobs=os.cpu_count() or 1,
                                   random_state=seed)
    # the fitted map's own settings, not openTSNE's defaults (θ = 0.5 on one thread)
    return TSNEEmbedding(reference_coords.astype(np.float64), affinities,
                         random_state=seed, **_optimiser_settings())


def _optimiser_settings() -> dict:
    """openTSNE's optimiser settings for the fitted map and for every map rebuilt from its
    saved arrays: one place, so that a later round places a point where the explore would
    have placed it."""
    return {"theta": TSNE_THETA, "n_jobs": os.cpu_count() or 1}
