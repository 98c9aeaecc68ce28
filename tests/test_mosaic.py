"""core.mosaic: grid planning, cost, the three placements, weights, and the whole build as one job.

The optimality checks follow the issue: on random and real problems of up to
400 tiles, PuLP's LP and the exact assignment reach the same total cost
(within 1e-6 relative) and greedy is never better.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from pathlib import Path

import numpy as np
import pytest
from skimage.metrics import mean_squared_error

import core.mosaic as M
from core.image.io import load_image
from core.jobs import Cancelled, JobError

# ---------------------------------------------------------------- helpers


def _greedy_reference(cost: np.ndarray) -> np.ndarray:
    """The seed's greedy written the slow, obvious way (test-only, small matrices)."""
    n_t, n_c = cost.shape
    row_free, col_free = np.ones(n_t, bool), np.ones(n_c, bool)
    out = np.full(n_t, -1)
    for flat in np.argsort(cost, axis=None, kind="stable"):
        i, j = divmod(int(flat), n_c)
        if row_free[i] and col_free[j]:
            out[i] = j
            row_free[i] = col_free[j] = False
    return out


def _real_photos(data_dir: Path, n: int, size: int) -> np.ndarray:
    paths = sorted((data_dir / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    paths += sorted((data_dir / "instaloader-top20-celebs").rglob("*.jpg"))
    step = max(1, len(paths) // n)
    chosen = paths[::step][:n]
    return np.stack([M.square_tile(load_image(p, max_side=4 * size), size) for p in chosen])


@pytest.fixture(scope="module")
def real_photos(data_dir: Path) -> np.ndarray:
    """160 real photos (ImageNet and Instagram posts) as 16x16 tiles."""
    return _real_photos(data_dir, 160, 16)


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    import skimage.data

    return skimage.data.astronaut()


# ------------------------------------------------------------ grid planning


@pytest.mark.parametrize(
    ("n", "aspect", "reuse", "expected"),
    [
        (1, 1.0, 1, (1, 1)),
        (1, 16 / 9, 1, (1, 1)),
        (2, 1.0, 1, (1, 1)),
        (12, 4 / 3, 1, (3, 4)),
        (12, 3 / 4, 1, (4, 3)),
        (10_000, 1.0, 1, (100, 100)),
        (10, 100.0, 1, (1, 10)),  # a panorama: one row
        (10, 0.01, 1, (10, 1)),  # a tall strip: one column
        (15, 1.0, 27, (20, 20)),  # small archive with reuse
    ],
)
def test_plan_grid_cases(n, aspect, reuse, expected):
    assert M.plan_grid(n, aspect, reuse=reuse) == expected


def test_plan_grid_respects_max_tiles():
    assert M.plan_grid(50_000, 1.0, max_tiles=10_000) == (100, 100)
    assert M.plan_grid(5, 1.0, max_tiles=0) == (1, 1)


@pytest.mark.parametrize("n", [2, 3, 7, 13, 97, 101, 343, 2500, 9973])
@pytest.mark.parametrize("aspect", [0.5, 0.75, 1.0, 4 / 3, 16 / 9, 3.0])
def test_plan_grid_never_exceeds_photos_and_keeps_the_shape(n, aspect):
    rows, cols = M.plan_grid(n, aspect)
    assert rows >= 1 and cols >= 1 and rows * cols <= n
    if n >= 97:
        # Big enough to fit the shape well: most photos used, shape close to the target's.
        assert rows * cols >= 0.8 * n
        assert abs(math.log(cols / rows / aspect)) < 0.15


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n_photos": 0, "aspect": 1.0}, "at least one photo"),
        ({"n_photos": 5, "aspect": 1.0, "reuse": 0}, "reuse limit"),
        ({"n_photos": 5, "aspect": 0.0}, "aspect ratio"),
        ({"n_photos": 5, "aspect": -1.0}, "aspect ratio"),
        ({"n_photos": 5, "aspect": float("nan")}, "aspect ratio"),
        ({"n_photos": 5, "aspect": float("inf")}, "aspect ratio"),
    ],
)
def test_plan_grid_refuses_bad_input(kwargs, message):
    with pytest.raises(M.MosaicError, match=message):
        M.plan_grid(**kwargs)


def test_fewer_photos_than_tiles_says_how_to_fix_it():
    with pytest.raises(M.MosaicError) as err:
        M.check_capacity(400, 15)
    text = str(err.value)
    assert "400 tiles" in text and "only 15 photos" in text
    assert "Allow each photo to be used up to 27 times" in text
    assert "a grid of at most 15 tiles (for example 3 x 5)" in text
    # solve() refuses too, before any work, with the same message.
    tiles = np.zeros((400, 4, 4, 3), np.uint8)
    photos = np.zeros((15, 4, 4, 3), np.uint8)
    with pytest.raises(M.MosaicError, match="Allow each photo to be used up to 27 times"):
        M.solve(tiles, photos)
    # With reuse it works, and no photo is used more than k times.
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (40, 4, 4, 3), dtype=np.uint8)
    photos = rng.integers(0, 256, (15, 4, 4, 3), dtype=np.uint8)
    for method in ("exact", "greedy"):
        chosen = M.solve(tiles, photos, method=method, reuse=3)
        assert np.bincount(chosen, minlength=15).max() <= 3


def test_output_size_fits_the_print():
    tile, w, h = M.output_size(70, 50, 5906, 8268)
    assert (w, h) == (50 * tile, 70 * tile) and w <= 5906 and h <= 8268 and tile == 118


# -------------------------------------------------------------- tiles, cost


def test_tiles_crop_and_cut_in_reading_order():
    target = np.zeros((60, 90, 3), np.uint8)
    target[:, 45:] = 255  # right half white
    tiles = M.target_tiles(target, 2, 2, 8)
    assert tiles.shape == (4, 8, 8, 3)
    assert tiles[0].mean() < 5 and tiles[1].mean() > 250 and tiles[2].mean() < 5 and tiles[3].mean() > 250
    tile = M.square_tile(np.arange(20 * 40 * 3, dtype=np.uint8).reshape(20, 40, 3), 10)
    assert tile.shape == (10, 10, 3) and tile.dtype == np.uint8


def test_cost_matrix_is_skimage_mse_and_weighted_by_row():
    rng = np.random.default_rng(1)
    tiles = rng.integers(0, 256, (7, 16, 16, 3), dtype=np.uint8)
    photos = rng.integers(0, 256, (9, 16, 16, 3), dtype=np.uint8)
    cost = M.cost_matrix(tiles, photos)
    expected = np.array([[mean_squared_error(t / 255.0, p / 255.0) for p in photos] for t in tiles])
    assert cost.dtype == np.float32
    np.testing.assert_allclose(cost, expected, atol=2e-6)
    weights = np.arange(1, 8, dtype=float)
    np.testing.assert_allclose(M.cost_matrix(tiles, photos, weights=weights), expected * weights[:, None], rtol=1e-5)
    out = np.empty((7, 9))
    M.cost_matrix(tiles, photos, out=out, chunk=3)
    np.testing.assert_allclose(out, expected, atol=2e-6)
    assert np.abs(M.cost_matrix(photos, photos).diagonal()).max() < 1e-6  # float32 trick: ~1e-7 off


# --------------------------------------------------------------- placement


@pytest.mark.parametrize("shape", [(1, 1), (5, 5), (30, 40), (64, 64), (50, 200)])
def test_greedy_is_the_sequential_best_pair_first(shape):
    cost = np.random.default_rng(shape[0]).random(shape)
    chosen = M.assign_greedy(cost)
    np.testing.assert_array_equal(chosen, _greedy_reference(cost))
    assert np.unique(chosen).size == shape[0]


def test_greedy_with_ties_and_duplicated_columns_is_a_valid_assignment():
    rng = np.random.default_rng(2)
    cost = M.expand_reuse(rng.integers(0, 3, (40, 10)).astype(float), 4)
    chosen = M.assign_greedy(cost)
    assert np.unique(chosen).size == 40
    assert M.assignment_cost(cost, chosen) == M.assignment_cost(cost, _greedy_reference(cost))


def _same_optimum(cost: np.ndarray) -> tuple[float, float, float]:
    lp = M.assignment_cost(cost, M.assign_lp(cost))
    exact = M.assignment_cost(cost, M.assign_exact(cost))
    greedy = M.assignment_cost(cost, M.assign_greedy(cost))
    assert abs(lp - exact) <= 1e-6 * exact, (lp, exact)
    assert greedy >= exact * (1 - 1e-12)
    return lp, exact, greedy


@pytest.mark.parametrize(("n_t", "n_c", "seed"), [(8, 8, 0), (25, 25, 1), (30, 45, 2), (80, 80, 3)])
def test_lp_equals_exact_on_random_problems(n_t, n_c, seed):
    rng = np.random.default_rng(seed)
    tiles = rng.random((n_t, 48), dtype=np.float32)
    photos = rng.random((n_c, 48), dtype=np.float32)
    _same_optimum(M.cost_matrix(tiles, photos).astype(np.float64))


def test_lp_equals_exact_at_400_tiles():
    rng = np.random.default_rng(400)
    cost = M.cost_matrix(rng.random((400, 768), dtype=np.float32), rng.random((400, 768), dtype=np.float32))
    _same_optimum(cost.astype(np.float64))


def test_lp_equals_exact_on_a_real_target(real_photos, astronaut):
    rows, cols = M.plan_grid(len(real_photos), 1.0, max_tiles=144)
    tiles = M.target_tiles(astronaut, rows, cols, 16)
    cost = M.cost_matrix(tiles, real_photos).astype(np.float64)
    lp, exact, greedy = _same_optimum(cost)
    assert greedy > exact  # on real photos greedy is strictly worse
    # Weighted, with reuse (duplicated columns), the same holds.
    weights = np.linspace(1, 10, rows * cols)
    _same_optimum(M.expand_reuse(M.cost_matrix(tiles, real_photos[:60], weights=weights).astype(np.float64), 3))


@pytest.mark.parametrize("shape", [(1, 1), (20, 20), (20, 27), (5, 40)])
def test_exact_backends_agree(shape):
    cost = np.random.default_rng(7).random(shape)
    a = M.assign_exact(cost, backend="lapjv")
    b = M.assign_exact(cost, backend="scipy")
    assert np.unique(a).size == shape[0]
    assert math.isclose(M.assignment_cost(cost, a), M.assignment_cost(cost, b), rel_tol=1e-12)


@pytest.mark.parametrize("reuse", [1, 2])
def test_solve_matches_the_pieces(reuse):
    rng = np.random.default_rng(11)
    tiles = rng.integers(0, 256, (30, 8, 8, 3), dtype=np.uint8)
    photos = rng.integers(0, 256, (20, 8, 8, 3), dtype=np.uint8)
    if reuse == 1:
        tiles = tiles[:18]
    weights = rng.random(len(tiles)) + 1
    cost = M.expand_reuse(M.cost_matrix(tiles, photos, weights=weights, dtype=np.float64), reuse)
    for method in ("exact", "greedy"):
        chosen = M.solve(tiles, photos, method=method, weights=weights, reuse=reuse)
        assert np.bincount(chosen, minlength=20).max() <= reuse
        direct = M.assign(cost, method) % 20
        np.testing.assert_allclose(
            (M.tile_errors(tiles, photos, chosen) * weights).sum(),
            (M.tile_errors(tiles, photos, direct) * weights).sum(), rtol=1e-9,
        )


def test_run_in_subprocess_returns_and_cancels():
    rng = np.random.default_rng(5)
    tiles = rng.integers(0, 256, (12, 4, 4, 3), dtype=np.uint8)
    photos = rng.integers(0, 256, (15, 4, 4, 3), dtype=np.uint8)
    np.testing.assert_array_equal(M.run_in_subprocess(M.solve, tiles, photos), M.solve(tiles, photos))
    with pytest.raises(M.MosaicError, match="Allow each photo"):
        M.run_in_subprocess(M.solve, tiles, photos[:3])

    calls: list[float] = []

    def poll(elapsed: float) -> None:
        calls.append(elapsed)
        if elapsed > 0.5:
            raise Cancelled("cancelled")

    start = time.monotonic()
    with pytest.raises(Cancelled):
        M.run_in_subprocess(time.sleep, 60, poll=poll, interval=0.1)
    assert time.monotonic() - start < 30 and calls
    assert multiprocessing.active_children() == []


# ----------------------------------------------------------------- weights


def test_tile_weights_fall_off_with_distance():
    face = np.zeros((100, 100), bool)
    face[40:60, 40:60] = True  # the middle 2 x 2 tiles of a 10 x 10 grid
    w = M.tile_weights(face, None, 10, 10, alpha_face=9, width=3)
    assert w.shape == (10, 10)
    assert w[4, 4] == pytest.approx(10.0) and w.min() == pytest.approx(1.0)
    row = w[4, 4:]
    assert (np.diff(row) <= 0).all() and row[-1] == 1.0
    hard = M.tile_weights(face, None, 10, 10, alpha_face=9, width=0)
    assert set(np.unique(hard).round(6)) == {1.0, 10.0}
    empty = np.zeros((100, 100), bool)
    np.testing.assert_array_equal(M.tile_weights(empty, empty, 10, 10), np.ones((10, 10)))
    np.testing.assert_array_equal(M.tile_weights(None, None, 3, 4), np.ones((3, 4)))


def test_regions_and_means():
    labels = M.region_labels(np.array([1.0, 0.4, 0.0, 0.0]), np.array([1.0, 0.9, 0.6, 0.1]))
    assert labels.tolist() == [2, 1, 1, 0]
    means = M.region_means(np.array([0.1, 0.2, 0.4, 0.8]), labels)
    assert means["face"] == pytest.approx(0.1) and means["person"] == pytest.approx(0.3)
    assert means["background"] == pytest.approx(0.8) and means["all"] == pytest.approx(0.375)


def test_render_blend_and_overlay():
    photos = np.stack([np.full((4, 4, 3), v, np.uint8) for v in (0, 100, 200)])
    image = M.render(photos, np.array([2, 1, 0, 2, 2, 1]), 2, 3)
    assert image.shape == (8, 12, 3)
    assert image[0, 0, 0] == 200 and image[0, 4, 0] == 100 and image[4, 8, 0] == 100
    assert M.blend(image, np.zeros((30, 30, 3), np.uint8), 0.0) is image
    half = M.blend(image, np.full((30, 30, 3), 100, np.uint8), 0.5)
    assert half[0, 0, 0] == 150
    overlay = M.weight_overlay(np.zeros((50, 50, 3), np.uint8), np.array([[1.0, 2.0], [3.0, 9.0]]))
    assert overlay.shape == (50, 50, 3) and overlay[40, 40].sum() > overlay[5, 5].sum()


# ------------------------------------------------- MediaPipe, real photos


@pytest.fixture
def models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    return shared_dir / "models"


def test_mediapipe_finds_the_face_and_the_person(models, astronaut):
    from core.mosaic.regions import region_masks

    regions = region_masks(astronaut)
    assert regions.n_faces == 1 and not regions.notes
    ys, xs = np.nonzero(regions.face)
    # MANIFEST.md: landmark box about (181, 72)-(270, 177) on this photo
    assert 170 < xs.min() < 195 and 255 < xs.max() < 285 and 60 < ys.min() < 90 and 165 < ys.max() < 190
    assert 0.45 < regions.person.mean() < 0.65
    assert regions.person[regions.face].mean() > 0.9  # the face is part of the person


def test_no_face_or_person_gives_uniform_weights(models):
    import skimage.data

    from core.mosaic.regions import region_masks

    rocket = skimage.data.rocket()
    regions = region_masks(rocket)
    assert regions.empty and regions.n_faces == 0
    assert regions.notes == ["no face found", "no person found"]
    np.testing.assert_array_equal(M.tile_weights(regions.face, regions.person, 6, 9), np.ones((6, 9)))


def _face_errors(target: np.ndarray, photos: np.ndarray) -> tuple[float, float, float, float]:
    from core.mosaic.regions import region_masks

    rows, cols = M.plan_grid(len(photos), target.shape[1] / target.shape[0])
    cropped = np.ascontiguousarray(M.crop_to_aspect(target, cols / rows))
    regions = region_masks(cropped)
    labels = M.region_labels(M.mask_coverage(regions.face, rows, cols).ravel(),
                             M.mask_coverage(regions.person, rows, cols).ravel())
    assert (labels == 2).sum() >= 3, "the target should have a few face tiles"
    weights = M.tile_weights(regions.face, regions.person, rows, cols).ravel()
    tiles = M.target_tiles(target, rows, cols, photos.shape[1])
    plain = M.solve(tiles, photos)
    weighted = M.solve(tiles, photos, weights=weights)
    e_plain = M.region_means(M.tile_errors(tiles, photos, plain), labels)
    e_weighted = M.region_means(M.tile_errors(tiles, photos, weighted), labels)
    return e_plain["face"], e_weighted["face"], e_plain["all"], e_weighted["all"]


def test_weighting_lowers_the_face_error_on_real_face_targets(models, real_photos, astronaut, data_dir):
    face_plain, face_weighted, all_plain, all_weighted = _face_errors(astronaut, real_photos)
    assert face_weighted < 0.85 * face_plain
    assert all_weighted >= all_plain  # the price: the unweighted optimum is best overall
    selfie = load_image(data_dir / "faces-deepface-pairs" / "images" / "img20.jpg", max_side=1024)
    face_plain, face_weighted, _, _ = _face_errors(selfie, real_photos)
    assert face_weighted < face_plain


# ------------------------------------------- build_mosaic: the whole job, in core


@pytest.fixture(scope="module")
def photo_files(data_dir: Path) -> tuple[list[str], list[str]]:
    """160 real photos (ImageNet and Instagram posts): their sha256 and paths."""
    from core.cache import sha256_file

    paths = sorted((data_dir / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    paths += sorted((data_dir / "instaloader-top20-celebs").rglob("*.jpg"))
    chosen = paths[::2][:160]
    return [sha256_file(p) for p in chosen], [str(p) for p in chosen]


@pytest.fixture(scope="module")
def tile_cache(tmp_path_factory: pytest.TempPathFactory):
    """One disk cache for the module's builds: the photos are cut into tiles once."""
    from core.cache import DiskCache

    return DiskCache(tmp_path_factory.mktemp("mosaic-cache"))


@pytest.fixture(scope="module")
def selfie(data_dir: Path) -> np.ndarray:
    """A real photo of one person's face (faces-deepface-pairs)."""
    return load_image(data_dir / "faces-deepface-pairs" / "images" / "img20.jpg", max_side=1024)


def _cache_is_whole(cache) -> None:
    """Every cached tile loads, and no temporary file is left behind."""
    files = [p for p in cache.root.rglob("*") if p.is_file()]
    assert not [p for p in files if p.name.startswith(".tmp-")], "a half-written cache entry was left behind"
    for path in files:
        if path.suffix == ".npy":
            assert np.load(path).dtype == np.uint8


def test_build_mosaic_runs_every_method_on_real_photos(models, photo_files, tile_cache, selfie):
    shas, paths = photo_files
    seen: list[tuple[int, int, str]] = []
    request = M.MosaicRequest(target=selfie, shas=shas, paths=paths, rows=8, cols=9, reuse=1, width=1000, height=900,
                              dpi=150, methods=("exact", "greedy", "lp"), weightings=(False, True))
    result = M.build_mosaic(request, cache=tile_cache, progress=lambda d, t, m: seen.append((d, t, m)))

    n = 8 * 9
    assert (result.rows, result.cols, result.reuse, result.score_px) == (8, 9, 1, 16)
    assert (result.tile_px, result.width, result.height, result.dpi) == (111, 999, 888, 150)
    assert result.shas == shas and result.paths == paths and not result.left_out and not result.notes
    assert result.n_faces == 1 and result.uniform_reason is None
    assert result.labels.shape == (n,) and result.weights.shape == (n,)
    assert (result.labels == 2).sum() >= 2 and result.weights.max() > 5 and result.weights.min() == 1.0
    assert [(r.method, r.weighted) for r in result.runs] == [
        ("exact", False), ("exact", True), ("greedy", False), ("greedy", True), ("lp", False), ("lp", True)]
    for run in result.runs:
        assert run.photo_of_tile.shape == (n,) and np.unique(run.photo_of_tile).size == n  # each photo once
        assert run.photo_of_tile.max() < len(shas) and run.errors.shape == (n,)
        assert set(run.region_errors) == {"all", "face", "person", "background"}
        weights = result.weights if run.weighted else 1.0
        assert run.objective == pytest.approx(float((run.errors * weights).sum()))
        assert run.seconds >= 0
    for weighted in (False, True):
        exact, greedy, lp = (result.run(m, weighted) for m in ("exact", "greedy", "lp"))
        assert exact.objective <= greedy.objective * (1 + 1e-9)
        assert lp.objective == pytest.approx(exact.objective, rel=1e-6)
    # One progress over the whole job, never going back, each step named.
    fractions = [d / t for d, t, _ in seen]
    assert fractions == sorted(fractions) and seen[-1][0] == seen[-1][1]
    messages = [m for _, _, m in seen]
    assert any(m.startswith("Photo tiles at 16 px:") for m in messages)
    assert any(m.startswith("Step 1 of 6: Exact (Jonker–Volgenant) · uniform…") for m in messages)
    assert any(m.startswith("Step 6 of 6: PuLP LP · face & person weighted…") for m in messages)

    image = M.render_mosaic(result, result.run("exact", True), tile_px=6, cache=tile_cache)
    assert image.shape == (8 * 6, 9 * 6, 3) and image.dtype == np.uint8 and image.std() > 10
    first = result.run("exact", True).photo_of_tile[0]
    tile = M.load_photo_tiles([shas[first]], [paths[first]], 6, cache=tile_cache).tiles[0]
    np.testing.assert_array_equal(image[:6, :6], tile)
    blended = M.render_mosaic(result, result.run("exact", True), tile_px=6, target=selfie, blend_amount=0.5,
                              cache=tile_cache)
    assert blended.shape == image.shape and not np.array_equal(blended, image)
    _cache_is_whole(tile_cache)


def test_build_mosaic_face_weighting_lowers_the_face_error(models, photo_files, tile_cache, selfie):
    shas, paths = photo_files
    result = M.build_mosaic(M.MosaicRequest(target=selfie, shas=shas, paths=paths, methods=("exact",)),
                            cache=tile_cache)
    # Planned as the page plans: 160 photos, each up to 3 times (about 400 tiles), the target's shape.
    assert result.reuse == 3 and (result.rows, result.cols) == M.plan_grid(160, 1.0, reuse=3, max_tiles=M.MAX_TILES)
    assert (result.width, result.height) == (result.cols * result.tile_px, result.rows * result.tile_px)
    assert max(result.width, result.height) <= 3000
    assert np.unique(result.runs[0].photo_of_tile, return_counts=True)[1].max() <= 3
    uniform, weighted = result.run("exact", False), result.run("exact", True)
    assert (result.labels == 2).sum() >= 10
    assert weighted.region_errors["face"] < 0.85 * uniform.region_errors["face"]
    assert weighted.region_errors["all"] >= uniform.region_errors["all"]  # the price: uniform is best overall


def test_build_mosaic_reuse_and_unreadable_photos(photo_files, tile_cache, astronaut, tmp_path):
    shas, paths = photo_files
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not a picture")
    from core.cache import sha256_file

    request = M.MosaicRequest(target=astronaut, shas=[*shas[:30], sha256_file(broken)],
                              paths=[*paths[:30], str(broken)], rows=9, cols=10, reuse=3,
                              methods=("greedy", "exact"), weightings=(False,))
    result = M.build_mosaic(request, cache=tile_cache)
    assert result.left_out == [sha256_file(broken)] and result.shas == shas[:30]
    assert result.notes == ["1 photo(s) could not be read and were left out."]
    assert [r.method for r in result.runs] == ["greedy", "exact"]
    for run in result.runs:
        assert np.bincount(run.photo_of_tile, minlength=30).max() <= 3
    assert result.uniform_reason == "off" and (result.weights == 1).all()


def test_build_mosaic_falls_back_to_uniform_weights_without_models(photo_files, tile_cache, astronaut):
    from core.jobs import ModelUnavailableError

    def no_model(image):
        raise ModelUnavailableError("The model file 'face_landmarker.task' is not available.")

    search = M.find_regions(astronaut, detect=no_model)
    assert not search.found and search.uniform_reason == "model-unavailable" and "not available" in search.detail
    shas, paths = photo_files
    result = M.build_mosaic(M.MosaicRequest(target=astronaut, shas=shas, paths=paths, rows=6, cols=6,
                                            methods=("exact",), weightings=(False, True), regions=search),
                            cache=tile_cache)
    assert [(r.method, r.weighted) for r in result.runs] == [("exact", False)]
    assert result.uniform_reason == "model-unavailable" and (result.weights == 1).all()
    assert result.notes == ["Weighting is off: The model file 'face_landmarker.task' is not available. "
                            "The mosaic uses uniform weights."]


def test_build_mosaic_finds_no_region_in_a_rocket(models, photo_files, tile_cache):
    import skimage.data

    shas, paths = photo_files
    result = M.build_mosaic(M.MosaicRequest(target=skimage.data.rocket(), shas=shas, paths=paths, rows=5, cols=7,
                                            methods=("greedy",)), cache=tile_cache)
    assert result.uniform_reason == "nothing-found" and [r.weighted for r in result.runs] == [False]
    assert (result.labels == 0).all()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"rows": 20, "cols": 20, "reuse": 1}, "The grid has 400 tiles but there are only 160 photos"),
        ({"rows": 400, "cols": 300, "reuse": 1000}, "120,000 tiles is more than a mosaic may have"),
        ({"rows": 200, "cols": 200, "reuse": 300}, "Greedy best match needs the whole cost matrix"),
        ({"rows": 200, "cols": 200, "reuse": 300, "methods": ("exact",), "solver": "dense"},
         "The dense exact solver would need"),
        ({"rows": 60, "cols": 60, "reuse": 30, "methods": ("lp",)}, "PuLP is limited to 2,500 tiles"),
        ({"shas": [], "paths": []}, "at least one photo"),
        ({"methods": ("best",)}, "Unknown placement method"),
        ({"reuse": 0}, "reuse limit"),
        ({"weightings": ()}, "at least one weighting"),
    ],
)
def test_build_mosaic_refuses_an_impossible_request_before_any_work(photo_files, astronaut, changes, message):
    shas, paths = photo_files
    fields = {"target": astronaut, "shas": shas, "paths": paths, "weightings": (False,)} | changes
    seen: list = []
    with pytest.raises(M.MosaicError, match=message) as err:
        M.build_mosaic(M.MosaicRequest(**fields), progress=lambda *a: seen.append(a))
    assert isinstance(err.value, JobError) and not seen


def test_build_mosaic_cancel_while_cutting_tiles(photo_files, tmp_path, astronaut):
    from core.cache import DiskCache

    cache = DiskCache(tmp_path / "cache")
    shas, paths = photo_files
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 20

    with pytest.raises(Cancelled):
        M.build_mosaic(M.MosaicRequest(target=astronaut, shas=shas, paths=paths, weightings=(False,)),
                       cache=cache, cancel=cancel)
    assert len(calls) == 21
    _cache_is_whole(cache)
    tiles = list(cache.root.joinpath("mosaic-tile16").rglob("*.npy"))
    assert 21 <= len(tiles) < len(shas)  # the work done is kept; the rest was never started


def test_build_mosaic_cancel_kills_the_child_process(photo_files, tile_cache, astronaut):
    shas, paths = photo_files
    seen: list[str] = []
    started = []

    def cancel() -> bool:
        # Cancel once the placement has been running in its child process for a moment.
        if any(m.startswith("Step 1 of 1: PuLP LP") for m in seen):
            started.append(time.monotonic())
            return len(started) > 3
        return False

    # PuLP on 400 tiles x 480 photo slots takes several seconds: it is cancelled about 1 s in.
    request = M.MosaicRequest(target=astronaut, shas=shas * 3, paths=paths * 3, rows=20, cols=20,
                              methods=("lp",), weightings=(False,))
    start = time.monotonic()
    with pytest.raises(Cancelled):
        M.build_mosaic(request, cache=tile_cache, cancel=cancel, progress=lambda d, t, m: seen.append(m))
    assert time.monotonic() - start < 60
    assert any("photo slots" in m for m in seen)  # it was solving in the child
    assert multiprocessing.active_children() == []
    _cache_is_whole(tile_cache)


def test_tile_pool_leaves_the_target_out_and_caps_the_photos():
    import pandas as pd

    catalogue = pd.DataFrame({"sha256": ["a", "b", "b", "c", "d"], "path": ["1", "2", "2", "3", "4"]})
    pool = M.tile_pool(catalogue, exclude="b", max_photos=2)
    assert pool.shas == ["c", "d"] and pool.paths == ["3", "4"] and pool.available == 3 and pool.capped
    assert len(M.tile_pool(catalogue.iloc[:0])) == 0


def test_print_size_and_default_reuse():
    assert M.print_size(16 / 9) == (3000, 1688)
    assert M.print_size(0.8, 1080, 1350) == (1080, 1350) and M.print_size(1.25, 1080, 1350) == (1350, 1080)
    assert M.print_size(1.25, 3000, 2000, turn=False) == (3000, 2000)
    assert [M.default_reuse(n) for n in (1, 14, 15, 399, 400, 5000)] == [400, 29, 27, 2, 1, 1]
