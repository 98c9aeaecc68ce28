"""Mosaics at print scale (issue 18): the sparse exact placement, strip rendering, colour transfer, adaptive tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import core.mosaic as M
from core.image.io import load_image
from core.mosaic.sparse import assign_sparse, fits_dense, nearest


def _dense_objective(tiles, photos, weights=None, reuse=1) -> tuple[np.ndarray, float]:
    chosen = M.solve(tiles, photos, weights=weights, reuse=reuse, solver="dense")
    cost = M.cost_matrix(tiles, photos, weights=weights, dtype=np.float64)
    return chosen, M.assignment_cost(cost, chosen)


@pytest.fixture(scope="module")
def real_problem(data_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """Tiles of a real face photo (12 x 15) and 180 real photos, at 8 px."""
    target = load_image(data_dir / "faces-deepface-pairs" / "images" / "img20.jpg", max_side=512)
    paths = sorted((data_dir / "instaloader-top20-celebs").rglob("*.jpg"))[:180]
    photos = np.stack([M.square_tile(load_image(p, max_side=64), 8) for p in paths])
    return M.target_tiles(target, 12, 15, 8), photos


@pytest.fixture(scope="module")
def photo_files(data_dir: Path) -> tuple[list[str], list[str]]:
    """80 real photos: their sha256 and paths."""
    from core.cache import sha256_file

    paths = sorted((data_dir / "instaloader-top20-celebs").rglob("*.jpg"))[::2][:80]
    return [sha256_file(p) for p in paths], [str(p) for p in paths]


@pytest.fixture(scope="module")
def tile_cache(tmp_path_factory: pytest.TempPathFactory):
    from core.cache import DiskCache

    return DiskCache(tmp_path_factory.mktemp("mosaic-scale-cache"))


@pytest.fixture(scope="module")
def selfie(data_dir: Path) -> np.ndarray:
    return load_image(data_dir / "faces-deepface-pairs" / "images" / "img20.jpg", max_side=512)


# -- the sparse exact placement --------------------------------------------------------------------


def test_nearest_is_exact_against_the_cost_matrix(real_problem):
    tiles, photos = real_problem
    mse, idx = nearest(tiles, photos, 5)
    cost = M.cost_matrix(tiles, photos, dtype=np.float64)
    best = np.sort(cost, axis=1)[:, :5]
    np.testing.assert_allclose(mse, best, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(np.take_along_axis(cost, idx, 1), best, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("reuse", [1, 2])
def test_sparse_with_every_candidate_equals_dense(real_problem, reuse):
    tiles, photos = real_problem
    photos = photos[: len(tiles) // reuse + 3]  # tight: nearly every slot is needed
    _, dense = _dense_objective(tiles, photos, reuse=reuse)
    placed = assign_sparse(tiles, photos, reuse=reuse, k=len(photos))
    assert placed.objective == pytest.approx(dense, rel=1e-6)
    assert placed.lower_bound <= placed.objective


def test_pricing_proves_the_sparse_placement_optimal_on_real_photos(real_problem):
    # 180 tiles of one face from 180 photos: every photo must be used, the hardest case for few candidates.
    tiles, photos = real_problem
    _, dense = _dense_objective(tiles, photos)
    unpriced = assign_sparse(tiles, photos, k=8, max_rounds=0)
    assert not unpriced.certified and unpriced.objective > dense * 1.001  # 8 candidates alone are not enough here
    placed = assign_sparse(tiles, photos, k=8)
    assert placed.certified and placed.priced
    assert placed.objective == pytest.approx(dense, rel=1e-6)
    assert placed.lower_bound <= dense
    cost = M.cost_matrix(tiles, photos, dtype=np.float64)
    assert M.assignment_cost(cost, placed.photo_of_tile) == pytest.approx(placed.objective, rel=1e-5)


def test_reduced_space_distances_are_lower_bounds_of_the_mse(real_problem):
    from core.mosaic.sparse import _common_mean, _Reduced

    tiles, photos = real_problem
    reduced = _Reduced(tiles, photos, _common_mean(tiles, photos), dims=6)
    a, b = reduced.project(tiles).astype(np.float64), reduced.project(photos).astype(np.float64)
    bound = ((a[:, None] - b[None]) ** 2).sum(-1) / tiles[0].size
    cost = M.cost_matrix(tiles, photos, dtype=np.float64)
    assert (bound <= cost + 1e-6).all()
    assert bound.mean() > 0.5 * cost.mean()  # 6 axes and the rest's length already hold most of the distance


def test_vectors_without_structure_keep_every_axis(real_problem):
    from core.mosaic.sparse import _common_mean, _Reduced

    rng = np.random.default_rng(4)
    tiles, photos = rng.random((300, 48), dtype=np.float32), rng.random((300, 48), dtype=np.float32)
    assert _Reduced(tiles, photos, _common_mean(tiles, photos), dims=8).dims == 48
    faces, pool = real_problem
    assert _Reduced(faces, pool, _common_mean(faces, pool), dims=32).dims == 32


def test_candidates_from_few_axes_still_reach_the_certified_optimum(real_problem):
    # 3 principal axes make the candidate search far from exact; pricing must still prove the optimum.
    tiles, photos = real_problem
    _, dense = _dense_objective(tiles, photos)
    placed = assign_sparse(tiles, photos, k=4, reduce_dims=3, min_captured=0, max_rounds=100)
    assert placed.certified and placed.priced
    assert placed.objective == pytest.approx(dense, rel=1e-6)


def test_a_time_budget_stops_pricing_with_a_complete_uncertified_placement(real_problem):
    tiles, photos = real_problem
    _, dense = _dense_objective(tiles, photos)
    placed = assign_sparse(tiles, photos, k=2, max_seconds=0)
    assert not placed.certified and placed.priced == []
    assert np.unique(placed.photo_of_tile).size == len(tiles)
    assert placed.objective > dense * 1.001 and placed.lower_bound <= dense


def test_lapmod_and_scipy_agree_on_a_square_graph():
    rng = np.random.default_rng(3)
    tiles, photos = rng.random((300, 48), dtype=np.float32), rng.random((300, 48), dtype=np.float32)
    a = assign_sparse(tiles, photos, k=6, solver="lapmod")
    b = assign_sparse(tiles, photos, k=6, solver="scipy")
    assert a.objective == pytest.approx(b.objective, rel=1e-9)
    assert np.unique(a.photo_of_tile).size == 300


def test_a_graph_without_complete_matching_is_grown_never_left_black():
    # Every tile is nearest to photo 0: with one candidate each and no photo-side edges, only one tile
    # can be matched; the placement must grow the candidates until every tile has its own photo.
    rng = np.random.default_rng(0)
    photos = rng.random((40, 12), dtype=np.float32)
    tiles = np.repeat(photos[:1], 30, axis=0) + rng.normal(0, 1e-3, (30, 12)).astype(np.float32)
    placed = assign_sparse(np.clip(tiles, 0, 1), photos, k=1, photo_k=0, backbone=False)
    assert placed.grown and placed.grown[0] == 29
    assert np.unique(placed.photo_of_tile).size == 30
    _, dense = _dense_objective(np.clip(tiles, 0, 1), photos)
    assert placed.certified and placed.objective == pytest.approx(dense, rel=1e-6)


def test_sparse_respects_reuse_and_weights(real_problem):
    tiles, photos = real_problem
    photos = photos[:50]  # 180 tiles from 50 photos: each used up to 4 times
    weights = np.ones(len(tiles))
    weights[:40] = 25.0
    placed = assign_sparse(tiles, photos, reuse=4, weights=weights, k=6)
    assert np.bincount(placed.photo_of_tile, minlength=50).max() <= 4
    _, dense = _dense_objective(tiles, photos, weights=weights, reuse=4)
    assert placed.certified and placed.objective == pytest.approx(dense, rel=1e-6)
    uniform = assign_sparse(tiles, photos, reuse=4, k=6)
    errors = M.tile_errors(tiles, photos, placed.photo_of_tile)
    plain = M.tile_errors(tiles, photos, uniform.photo_of_tile)
    assert errors[:40].mean() < plain[:40].mean()  # heavy tiles get better photos


def test_sparse_refuses_too_few_slots(real_problem):
    tiles, photos = real_problem
    with pytest.raises(M.MosaicError, match="Allow each photo"):
        assign_sparse(tiles, photos[:10], reuse=2)


def test_solve_switches_to_sparse_above_the_budget():
    assert fits_dense(10_000, 10_000) and not fits_dense(100_000, 12_000, reuse=9)
    rng = np.random.default_rng(1)
    tiles, photos = rng.random((60, 12), dtype=np.float32), rng.random((70, 12), dtype=np.float32)
    dense = M.solve(tiles, photos, solver="dense")
    sparse = M.solve(tiles, photos, solver="sparse", k=70)
    cost = M.cost_matrix(tiles, photos, dtype=np.float64)
    assert M.assignment_cost(cost, sparse) == pytest.approx(M.assignment_cost(cost, dense), rel=1e-6)


# -- print files in strips -------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".png", ".tif", ".jpg"])
def test_strip_render_equals_whole_render(tmp_path, real_problem, suffix):
    from PIL import Image

    from core.mosaic.printing import mosaic_strips, physical_size, write_print

    _, photos = real_problem
    rng = np.random.default_rng(5)
    photo_of_tile = rng.integers(0, len(photos), 7 * 9)
    whole = M.render(photos, photo_of_tile, 7, 9)
    path = write_print(tmp_path / f"m{suffix}", mosaic_strips(photos, photo_of_tile, 7, 9), 9 * 8, 7 * 8, dpi=300)
    with Image.open(path) as image:
        back = np.asarray(image.convert("RGB"))
        dpi = image.info.get("dpi")
    assert back.shape == whole.shape
    if suffix == ".jpg":  # lossy: close, not equal
        assert np.abs(back.astype(int) - whole).mean() < 6
    else:
        np.testing.assert_array_equal(back, whole)
    assert dpi is not None and round(float(dpi[0])) == 300
    assert physical_size(*whole.shape[1::-1], 300) == (0.6, 0.5)


def test_print_file_refuses_an_unknown_format(tmp_path, real_problem):
    from core.mosaic.printing import mosaic_strips, write_print

    _, photos = real_problem
    with pytest.raises(M.MosaicError, match=".png, .tif or .jpg"):
        write_print(tmp_path / "m.gif", mosaic_strips(photos, np.zeros(4, int), 2, 2), 16, 16)


def test_png_writer_checks_the_rows(tmp_path):
    from core.mosaic.printing import write_png_strips

    with pytest.raises(ValueError, match="rows written"):
        write_png_strips(tmp_path / "m.png", iter([np.zeros((2, 4, 3), np.uint8)]), 4, 3)


# -- colour transfer -------------------------------------------------------------------------------


def test_colour_transfer_moves_towards_the_cell_and_finds_the_cheating_limit(real_problem):
    from core.mosaic.colour import colour_curve, colour_transfer, lab_stats

    tiles, photos = real_problem
    chosen = M.solve(tiles, photos)
    mean, spread = lab_stats(tiles)
    moved_mean, _ = lab_stats(colour_transfer(photos[chosen], mean, spread, 1.0))
    before, _ = lab_stats(photos[chosen])
    assert np.abs(moved_mean - mean).mean() < 0.2 * np.abs(before - mean).mean()
    np.testing.assert_array_equal(colour_transfer(photos[chosen], mean, spread, 0.0), photos[chosen])
    curve = colour_curve(tiles, photos, chosen)
    assert curve.mse[0] < curve.random_mse[0]  # the placement matters without a shift
    assert np.all(np.diff(curve.mse) < 0)  # more transfer, closer to the target
    assert 0 < curve.cheat_amount < 1  # a random placement shifted enough looks as good: the target shows through
    assert curve.random_mse[np.searchsorted(curve.amounts, curve.cheat_amount)] <= curve.mse[0]


def test_print_with_colour_transfer_equals_the_whole_render(tmp_path, real_problem):
    from PIL import Image

    from core.mosaic.colour import colour_transfer, lab_stats
    from core.mosaic.printing import mosaic_strips, write_print

    tiles, photos = real_problem
    chosen = M.solve(tiles, photos)
    mean, spread = lab_stats(tiles)
    whole = M.render(colour_transfer(photos[chosen], mean, spread, 0.4), np.arange(len(tiles)), 12, 15)
    strips = mosaic_strips(photos, chosen, 12, 15,
                           adjust=lambda idx, t: colour_transfer(t, mean[idx], spread[idx], 0.4))
    path = write_print(tmp_path / "c.png", strips, 15 * 8, 12 * 8)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), whole)


# -- adaptive tiles --------------------------------------------------------------------------------


def test_quadtree_gives_faces_small_tiles_and_keeps_the_tile_count(data_dir):
    from core.mosaic.adaptive import cell_labels, quadtree_cells, unit_grid

    target = load_image(data_dir / "faces-deepface-pairs" / "images" / "img20.jpg", max_side=512)
    face = np.zeros(target.shape[:2], bool)
    h, w = face.shape
    face[h // 4 : h // 2, w // 3 : 2 * w // 3] = True
    cells = quadtree_cells(target, 16, 16, face=face)
    unit_rows, unit_cols = unit_grid(16, 16)
    assert 256 - 2 <= len(cells) <= 256
    covered = np.zeros((unit_rows, unit_cols), int)
    for y, x, s in cells:
        covered[y : y + s, x : x + s] += 1
    assert (covered == 1).all()  # the cells tile the grid exactly once
    labels = cell_labels(cells, face, None, unit_rows, unit_cols)
    assert cells[labels == 2, 2].max() == 1 and cells[labels == 0, 2].mean() > 1.5


def test_adaptive_build_and_print_equal_the_whole_render(tmp_path, photo_files, tile_cache, selfie):
    from PIL import Image

    shas, paths = photo_files
    face = np.zeros(selfie.shape[:2], bool)
    h, w = face.shape
    face[h // 4 : h // 2, w // 3 : 2 * w // 3] = True
    regions = M.RegionSearch(M.Regions(face=face, person=face, n_faces=1, notes=[]), None)
    request = M.MosaicRequest(target=selfie, shas=shas, paths=paths, rows=8, cols=8, reuse=2, width=320,
                              height=320, methods=("exact",), weightings=(True,), regions=regions, adaptive=True)
    result = M.build_mosaic(request, cache=tile_cache)
    assert result.adaptive and result.n_tiles <= 64 and len(result.runs[0].photo_of_tile) == result.n_tiles
    assert np.bincount(result.runs[0].photo_of_tile).max() <= 2
    run = result.runs[0]
    whole = M.render_mosaic(result, run, cache=tile_cache, tile_px=8)
    path = M.print_mosaic(result, run, tmp_path / "a.png", cache=tile_cache, tile_px=8)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), whole)
    coloured = M.render_mosaic(result, run, cache=tile_cache, tile_px=8, target=selfie, colour_amount=0.5)
    path = M.print_mosaic(result, run, tmp_path / "c.png", cache=tile_cache, tile_px=8, target=selfie,
                          colour_amount=0.5)
    np.testing.assert_array_equal(np.asarray(Image.open(path)), coloured)
    assert not np.array_equal(coloured, whole)


def test_a_build_says_whether_its_sparse_placement_is_proven_optimal(photo_files, tile_cache, selfie):
    shas, paths = photo_files
    runs = {}
    for seconds in (None, 0.0):
        request = M.MosaicRequest(target=selfie, shas=shas, paths=paths, rows=8, cols=8, reuse=2, width=160,
                                  height=160, methods=("exact",), weightings=(False,), solver="sparse",
                                  sparse_seconds=seconds)
        runs[seconds] = M.build_mosaic(request, cache=tile_cache).runs[0]
    priced, unpriced = runs[None], runs[0.0]
    assert priced.solver == unpriced.solver == "sparse"
    assert priced.certified and not unpriced.certified  # no budget: priced until proven; 0 s: the graph alone
    assert priced.objective <= unpriced.objective + 1e-9 and priced.lower_bound <= priced.objective
    assert len(unpriced.photo_of_tile) == 64 and np.bincount(unpriced.photo_of_tile).max() <= 2


# -- the command line ------------------------------------------------------------------------------


def test_cli_builds_an_adaptive_sparse_colour_shifted_tiff_poster(data_dir, tmp_path):
    import json
    import os
    import subprocess
    import sys

    from PIL import Image

    boston = data_dir / "instaloader-boston-2accounts"
    target = sorted(boston.rglob("*.jpg"))[0]
    out = tmp_path / "poster.tif"
    env = {**os.environ, "FEEDLENS_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "cli", "mosaic", str(boston), "--target", str(target), "--out",
                           str(out), "--rows", "6", "--cols", "6", "--reuse", "3", "--adaptive", "--solver", "sparse",
                           "--uniform", "--colour", "30", "--long-cm", "5", "--dpi", "150", "--json"],
                          cwd=Path(__file__).resolve().parents[1], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    assert doc["adaptive"] and doc["solver"] == "sparse" and doc["tiles"] <= 36
    assert doc["lower_bound"] <= doc["objective"]
    assert doc["certified"] is True  # 36 tiles are proven optimal well inside the default budget
    assert doc["colour"]["mse_with"] < doc["colour"]["mse_without"]
    with Image.open(out) as image:
        assert image.size == (doc["width"], doc["height"])
        assert max(image.size) <= 296  # 5 cm at 150 dpi, whole units
    assert doc["size_cm"][0] <= 5.0

    bad = subprocess.run([sys.executable, "-m", "cli", "mosaic", str(boston), "--target", str(target), "--out",
                          str(tmp_path / "m.gif")], cwd=Path(__file__).resolve().parents[1], env=env,
                         capture_output=True, text=True, timeout=300)
    assert bad.returncode == 1 and "Traceback" not in bad.stderr and ".png, .tif or .jpg" in bad.stderr
