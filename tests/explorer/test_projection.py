from __future__ import annotations

import numpy as np
import pytest

from topex_core.explorer.projection import fit_maps, load_maps, save_maps


def blobs(seed: int = 0, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.8, -0.8, -0.8], [-0.8, 0.8, -0.8], [-0.8, -0.8, 0.8]])
    return np.vstack([c + rng.normal(0, 0.08, (n // 3, 3)) for c in centres])


def test_unchanged_points_land_where_they_were(tmp_path) -> None:
    points = blobs()
    coords, maps = fit_maps(points, seed=0)
    assert coords["sparse_pca"].shape == coords["tsne"].shape == (300, 2)
    save_maps(maps, tmp_path)
    restored = load_maps(tmp_path)
    placed = restored.transform(points)
    np.testing.assert_allclose(placed["sparse_pca"], coords["sparse_pca"], atol=1e-5)
    np.testing.assert_array_equal(placed["tsne"], coords["tsne"])
    nudged = restored.transform(points + 0.01)["tsne"]
    spread = np.ptp(coords["tsne"], axis=0).max()
    median_shift = np.median(np.linalg.norm(nudged - coords["tsne"], axis=1))
    assert median_shift < 0.2 * spread


def test_saved_maps_place_a_new_point_where_the_fitted_maps_place_it(tmp_path) -> None:
    """A later round places points with the maps read back from disk: they must land where
    the explore's own fitted maps put them (the same Barnes–Hut θ), not nearby."""
    coords, maps = fit_maps(blobs(n=900), seed=0)
    new = blobs(seed=1, n=90)
    fitted = maps.transform(new)["tsne"]
    save_maps(maps, tmp_path)
    restored = load_maps(tmp_path).transform(new)["tsne"]
    spread = np.ptp(coords["tsne"], axis=0).max()
    np.testing.assert_allclose(restored, fitted, atol=1e-4 * spread)


def test_one_new_row_is_placed_as_one_row() -> None:
    _, maps = fit_maps(blobs(), seed=0)
    placed = maps.transform(np.array([[0.5, 0.5, -0.5]]))
    assert placed["sparse_pca"].shape == placed["tsne"].shape == (1, 2)


def test_large_inputs_fit_on_a_sample_and_place_the_rest() -> None:
    points = blobs(n=600)
    coords, maps = fit_maps(points, seed=0, tsne_max_fit=200)
    assert len(maps.reference) == 200 and np.isfinite(coords["tsne"]).all()
    tsne = coords["tsne"]
    first, second = tsne[:200].mean(axis=0), tsne[200:400].mean(axis=0)
    assert np.linalg.norm(first - second) > np.ptp(tsne, axis=0).max() / 4


def test_tiny_and_identical_inputs() -> None:
    coords, _ = fit_maps(np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]))
    np.testing.assert_array_equal(coords["tsne"], coords["sparse_pca"])
    coords, maps = fit_maps(np.ones((40, 3)))
    assert np.isfinite(coords["tsne"]).all() and np.isfinite(coords["sparse_pca"]).all()
    assert np.isfinite(maps.transform(np.zeros((2, 3)))["tsne"]).all()


def test_missing_maps_are_a_clear_error(tmp_path) -> None:
    with pytest.raises(ValueError, match="fitted maps missing or corrupt"):
        load_maps(tmp_path)


def test_sklearn_fallback_without_opentsne(monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "openTSNE", None)  # makes `import openTSNE` fail
    points = blobs(n=240)
    coords, maps = fit_maps(points, seed=0, tsne_max_fit=120)
    assert maps._embedding is None and np.isfinite(coords["tsne"]).all()
    np.testing.assert_array_equal(maps.transform(points)["tsne"], coords["tsne"])
    first, second = coords["tsne"][:80].mean(axis=0), coords["tsne"][80:160].mean(axis=0)
    assert np.linalg.norm(first - second) > np.ptp(coords["tsne"], axis=0).max() / 4


def test_many_points_at_once_are_placed_by_their_nearest_reference_points(monkeypatch) -> None:
    from sklearn.neighbors import NearestNeighbors

    from topex_core.explorer import projection

    points = blobs(n=600)
    blob = np.arange(600) // 200
    fitted, new = np.arange(0, 600, 2), np.arange(1, 600, 2)  # every blob on both sides
    coords, maps = fit_maps(points[fitted], seed=0)
    transformed = maps.transform(points[new])["tsne"]
    monkeypatch.setattr(projection, "TRANSFORM_MAX_POINTS", 100)
    interpolated = maps.transform(points[new])["tsne"]
    assert interpolated.shape == (300, 2) and np.isfinite(interpolated).all()
    assert not np.array_equal(interpolated, transformed)  # the other method ran
    # what matters, whatever this machine's t-SNE layout: each new point lands in its own
    # blob (the blob of its nearest fitted point on the map), as transform places it
    nearest = NearestNeighbors(n_neighbors=1).fit(coords["tsne"])
    for placed in (interpolated, transformed):
        landed = blob[fitted][nearest.kneighbors(placed)[1][:, 0]]
        assert (landed == blob[new]).mean() >= 0.95
    low, high = coords["tsne"].min(axis=0), coords["tsne"].max(axis=0)
    assert ((interpolated >= low) & (interpolated <= high)).all()
