"""Mosaics at print scale: sparse exact assignment, strip rendering, colour transfer, adaptive tiles.

Each case runs in its own child process (this script with ``--case``), so its
peak resident memory (``ru_maxrss``) is its own; CPU seconds (user + system)
are printed beside wall seconds because the machine may be shared.

Tile vectors are scored at ``--score`` px (8: 192 values; a 100,000-tile grid
gives each tile about 6 px of a 2048-px target, so 8 px already holds all the
target has). Two kinds:

* ``random``: uniform random vectors (the hardest case: every cost is alike);
* ``real``: tiles of a real target photo and random square crops of the
  shared real photos (``/work/shared/data``), as many as asked.

Cases (names as in issue 18):

* ``gap``: dense exact vs sparse at 10,000 x 10,000: ``mosaic_sparse_10000_gap``
  (real photos; ``..._random_gap`` for random), in per cent of the dense optimum.
* ``scale``: sparse at 40,000 and 100,000 tiles: time, peak RSS, gap to the lower
  bound (``mosaic_sparse_100000_s``, ``mosaic_sparse_100000_peak_mb``).
* ``render``: a print render of 100,000 tiles in strips (``mosaic_render_100000_s``).
* ``colour``: MSE by colour-transfer amount.
* ``adaptive``: face-region MSE of adaptive tiles / the uniform grid with as many tiles
  (``mosaic_adaptive_face_mse_ratio``).

Prints one JSON object per line: ``{"name": ..., "value": ..., "unit": ...}``.

Run: ``python bench/mosaic_scale.py [--cases gap,scale,render,colour,adaptive] [--sizes 40000,100000]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 6), "unit": unit}), flush=True)


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def photo_paths() -> list[Path]:
    data = shared_dir() / "data"
    found = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*"))
    found += sorted((data / "instaloader-top20-celebs").rglob("*"))
    return [p for p in found if p.suffix.lower() in {".jpg", ".jpeg"}]


def target_path() -> Path:
    return sorted((shared_dir() / "data" / "faces-deepface-pairs" / "images").rglob("*.jpg"))[0]


def real_photos(n: int, size: int, seed: int = 0) -> np.ndarray:
    """``n`` square crops (random place and scale) of the shared real photos, at ``size`` px."""
    from core.image.geometry import resize
    from core.image.io import load_image

    rng = np.random.default_rng(seed)
    images = [load_image(p, max_side=256) for p in photo_paths()]
    out = np.empty((n, size, size, 3), np.uint8)
    for i in range(n):
        img = images[i % len(images)]
        h, w = img.shape[:2]
        side = int(rng.integers(max(8, min(h, w) // 4), min(h, w) + 1))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        out[i] = resize(np.ascontiguousarray(img[y : y + side, x : x + side]), size, size)
    return out


def real_tiles(n_tiles: int, size: int) -> np.ndarray:
    from core.image.io import load_image
    from core.mosaic import plan_grid, target_tiles

    target = load_image(target_path(), max_side=2048)
    rows, cols = plan_grid(n_tiles, target.shape[1] / target.shape[0], max_tiles=n_tiles)
    tiles = target_tiles(target, rows, cols, size)
    if len(tiles) < n_tiles:  # a grid a little smaller than asked: repeat a few tiles
        tiles = np.concatenate([tiles, tiles[: n_tiles - len(tiles)]])
    return tiles


def problem(kind: str, n_tiles: int, n_photos: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    if kind == "random":
        rng = np.random.default_rng(0)
        d = size * size * 3
        return rng.random((n_tiles, d), dtype=np.float32), rng.random((n_photos, d), dtype=np.float32)
    return real_tiles(n_tiles, size), real_photos(n_photos, size)


def usage() -> dict:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"peak_mb": ru.ru_maxrss / 1024, "cpu_s": ru.ru_utime + ru.ru_stime}


# -- cases, each in a child ------------------------------------------------------------------------


def case_dense(kind: str, n: int, size: int, backend: str = "auto") -> dict:
    from core.mosaic.assignment import assignment_cost, cost_matrix, solve

    tiles, photos = problem(kind, n, n, size)
    before = usage()
    t = time.perf_counter()
    chosen = solve(tiles, photos, method="exact", solver="dense", backend=backend)
    seconds = time.perf_counter() - t
    objective = 0.0
    for s in range(0, n, 2048):  # the objective, without a second full matrix
        objective += assignment_cost(cost_matrix(tiles[s : s + 2048], photos), chosen[s : s + 2048])
    after = usage()
    return {"objective": objective, "seconds": seconds, "cpu_s": after["cpu_s"] - before["cpu_s"],
            "peak_mb": after["peak_mb"]}


def case_sparse(kind: str, n: int, n_photos: int, reuse: int, size: int, k: int, max_seconds: float | None = None,
                max_rounds: int = 8) -> dict:
    from core.mosaic.sparse import assign_sparse

    tiles, photos = problem(kind, n, n_photos, size)
    before = usage()
    t = time.perf_counter()
    placed = assign_sparse(tiles, photos, reuse=reuse, k=k, max_seconds=max_seconds, max_rounds=max_rounds)
    seconds = time.perf_counter() - t
    after = usage()
    return {"objective": placed.objective, "lower_bound": placed.lower_bound, "seconds": seconds,
            "cpu_s": after["cpu_s"] - before["cpu_s"], "peak_mb": after["peak_mb"], "edges": placed.edges,
            "grown": placed.grown, "priced": placed.priced, "certified": placed.certified, "steps": placed.seconds}


def case_render(n: int, tile_px: int, n_photos: int, fmt: str) -> dict:
    """A print file of ``n`` tiles (a random placement: drawing costs the same whatever the placement)."""
    import tempfile

    from core.mosaic import plan_grid
    from core.mosaic.printing import mosaic_strips, physical_size, write_print

    photos = real_photos(n_photos, tile_px)
    rows, cols = plan_grid(n, 1.0, max_tiles=n)
    placement = np.random.default_rng(0).integers(0, n_photos, rows * cols)
    before = usage()
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        path = write_print(Path(tmp) / f"poster.{fmt}", mosaic_strips(photos, placement, rows, cols),
                           cols * tile_px, rows * tile_px, dpi=300)
        seconds = time.perf_counter() - t
        size_mb = path.stat().st_size / 1e6
    after = usage()
    return {"seconds": seconds, "cpu_s": after["cpu_s"] - before["cpu_s"], "peak_mb": after["peak_mb"],
            "before_mb": before["peak_mb"], "file_mb": size_mb, "width": cols * tile_px, "height": rows * tile_px,
            "cm": physical_size(cols * tile_px, rows * tile_px, 300)}


def case_adaptive(rows: int, n_photos: int, size: int) -> dict:
    """Face-region MSE of adaptive tiles and of the uniform grid with as many tiles (pixels of the rendered mosaic)."""
    from core.image.io import load_image
    from core.mosaic import region_masks, solve
    from core.mosaic.adaptive import _fitted, cell_tiles, draw_cells, quadtree_cells, unit_grid
    from core.mosaic.grid import crop_to_aspect
    from core.mosaic.rendering import render

    target = load_image(target_path(), max_side=1024)
    regions = region_masks(target)
    photos_big = real_photos(n_photos, 4 * size, seed=1)
    photos = np.stack([p.reshape(size, 4, size, 4, 3).mean(axis=(1, 3)).round().astype(np.uint8) for p in photos_big])
    cols = rows
    reuse = -(-rows * cols // n_photos)
    unit_rows, unit_cols = unit_grid(rows, cols)
    px = 8  # pixels per unit in the comparison: a uniform tile is 2 units
    goal = _fitted(target, unit_rows, unit_cols, px).astype(np.float32) / 255
    face = crop_to_aspect(regions.face, unit_cols / unit_rows)
    from core.image.geometry import resize

    face_px = resize(face.astype(np.float32), unit_cols * px, unit_rows * px) >= 0.5
    out = {"faces": regions.n_faces, "face_px": int(face_px.sum())}
    from core.mosaic.grid import target_tiles

    uni_tiles = target_tiles(target, unit_rows // 2, unit_cols // 2, size)
    uni = solve(uni_tiles, photos, reuse=reuse)
    from core.image.geometry import resize as rs

    uni_img = render(np.stack([rs(p, 2 * px, 2 * px) for p in photos_big]), uni, unit_rows // 2, unit_cols // 2)
    cells = quadtree_cells(target, unit_rows // 2, unit_cols // 2, face=regions.face, person=regions.person)
    ada = solve(cell_tiles(target, cells, unit_rows, unit_cols, size), photos, reuse=reuse)
    ada_img = draw_cells(photos_big, ada, cells, unit_rows, unit_cols, px)
    for name, img in (("uniform", uni_img), ("adaptive", ada_img)):
        err = ((img.astype(np.float32) / 255 - goal) ** 2).mean(axis=2)
        out[f"{name}_face_mse"] = float(err[face_px].mean())
        out[f"{name}_all_mse"] = float(err.mean())
    out["tiles_uniform"] = (unit_rows // 2) * (unit_cols // 2)
    out["tiles_adaptive"] = int(len(cells))
    return out


def case_colour(n: int, n_photos: int, size: int) -> dict:
    from core.mosaic.colour import colour_curve
    from core.mosaic.sparse import assign_sparse

    tiles, photos = real_tiles(n, size), real_photos(n_photos, size)
    placed = assign_sparse(tiles, photos, reuse=-(-n // n_photos))
    curve = colour_curve(tiles, photos, placed.photo_of_tile)
    return {"amounts": curve.amounts.tolist(), "mse": curve.mse.tolist(), "random_mse": curve.random_mse.tolist(),
            "cheat_amount": curve.cheat_amount, "tiles_used": curve.tiles_used}


CASES = {"dense": case_dense, "sparse": case_sparse, "render": case_render, "adaptive": case_adaptive,
         "colour": case_colour}


def in_child(name: str, *args) -> dict:
    cmd = [sys.executable, __file__, "--case", json.dumps([name, *args])]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"case {name}{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_gap(args: argparse.Namespace) -> None:
    n = 10_000
    for kind in args.kinds:
        tag = "" if kind == "real" else "_random"
        sparse = in_child("sparse", kind, n, n, 1, args.score, args.k, args.max_seconds, args.max_rounds)  # first: the dense one may take long
        emit(f"mosaic_sparse_10000{tag}_bound_gap", 100 * (sparse["objective"] / sparse["lower_bound"] - 1), "%")
        emit(f"mosaic_sparse_10000{tag}_certified", float(sparse["certified"]), "bool")
        emit(f"mosaic_sparse_10000{tag}_pricing_rounds", len(sparse["priced"]), "rounds")
        report = [("sparse", sparse)]
        dense = in_child("dense", kind, n, args.score, args.dense_backend) if args.with_dense else None
        if dense is not None:
            emit(f"mosaic_sparse_10000{tag}_gap", 100 * (sparse["objective"] / dense["objective"] - 1), "%")
            report.append(("dense", dense))
        for solver, r in report:
            emit(f"mosaic_{solver}_10000{tag}_s", r["seconds"], "s")
            emit(f"mosaic_{solver}_10000{tag}_cpu_s", r["cpu_s"], "s")
            emit(f"mosaic_{solver}_10000{tag}_peak_mb", r["peak_mb"], "MB")


def bench_scale(args: argparse.Namespace) -> None:
    for n in args.sizes:
        for kind in args.kinds:
            for n_photos, reuse in ((n, 1), (12_000, -(-n // 12_000))):
                r = in_child("sparse", kind, n, n_photos, reuse, args.score, args.k, args.max_seconds, args.max_rounds)
                tag = f"{n}" + ("" if kind == "real" else "_random") + ("" if reuse == 1 else f"_reuse{reuse}")
                emit(f"mosaic_sparse_{tag}_s", r["seconds"], "s")
                emit(f"mosaic_sparse_{tag}_cpu_s", r["cpu_s"], "s")
                emit(f"mosaic_sparse_{tag}_peak_mb", r["peak_mb"], "MB")
                emit(f"mosaic_sparse_{tag}_bound_gap", 100 * (r["objective"] / r["lower_bound"] - 1), "%")
                emit(f"mosaic_sparse_{tag}_grown_rounds", len(r["grown"]), "rounds")
                emit(f"mosaic_sparse_{tag}_certified", float(r["certified"]), "bool")
                emit(f"mosaic_sparse_{tag}_pricing_rounds", len(r["priced"]), "rounds")
                emit(f"mosaic_sparse_{tag}_edges", r["edges"], "edges")
                for step, value in r["steps"].items():
                    emit(f"mosaic_sparse_{tag}_{step}_s", value, "s")


def bench_render(args: argparse.Namespace) -> None:
    # 100,000 tiles of 37 px: 11,692 px a side, 99 cm at 300 dpi, from 12,000 photos.
    for fmt in args.formats:
        r = in_child("render", 100_000, 37, 12_000, fmt)
        tag = "" if fmt == "png" else f"_{fmt}"
        emit(f"mosaic_render_100000{tag}_s", r["seconds"], "s")
        emit(f"mosaic_render_100000{tag}_cpu_s", r["cpu_s"], "s")
        emit(f"mosaic_render_100000{tag}_peak_mb", r["peak_mb"], "MB")
        emit(f"mosaic_render_100000{tag}_before_mb", r["before_mb"], "MB")
        emit(f"mosaic_render_100000{tag}_file_mb", r["file_mb"], "MB")
        emit(f"mosaic_render_100000{tag}_width_cm", r["cm"][0], "cm")


def bench_adaptive(args: argparse.Namespace) -> None:
    r = in_child("adaptive", 40, 343, args.score)
    emit("mosaic_adaptive_face_mse_ratio", r["adaptive_face_mse"] / r["uniform_face_mse"], "ratio")
    emit("mosaic_adaptive_all_mse_ratio", r["adaptive_all_mse"] / r["uniform_all_mse"], "ratio")
    for key in ("uniform_face_mse", "adaptive_face_mse", "tiles_uniform", "tiles_adaptive"):
        emit(f"mosaic_adaptive_{key}", r[key], "MSE" if "mse" in key else "tiles")


def bench_colour(args: argparse.Namespace) -> None:
    r = in_child("colour", 10_000, 2_000, args.score)
    for a, m, rm in zip(r["amounts"], r["mse"], r["random_mse"]):
        emit(f"mosaic_colour_{round(100 * a)}_mse", m, "MSE")
        emit(f"mosaic_colour_{round(100 * a)}_random_mse", rm, "MSE")
    emit("mosaic_colour_cheat_amount", 100 * r["cheat_amount"], "%")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--cases", default="gap,scale")
    parser.add_argument("--sizes", default="40000,100000")
    parser.add_argument("--kinds", default="real,random")
    parser.add_argument("--score", type=int, default=8, help="scoring tile side in px")
    parser.add_argument("--k", type=int, default=8, help="candidate photos per tile")
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="sparse: start no pricing round after this many seconds (then maybe not certified)")
    parser.add_argument("--max-rounds", type=int, default=8, help="sparse: pricing rounds at most")
    parser.add_argument("--dense-backend", default="auto", help="dense reference: auto (lapjv) or scipy")
    parser.add_argument("--no-dense", dest="with_dense", action="store_false",
                        help="gap case: skip the dense reference (a certified sparse placement is its optimum)")
    parser.add_argument("--formats", default="png,tiff", help="print formats of the render case")
    args = parser.parse_args()
    if args.case:
        name, *rest = json.loads(args.case)
        print(json.dumps(CASES[name](*rest)), flush=True)
        return
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.kinds = [s for s in args.kinds.split(",") if s]
    args.formats = [s for s in args.formats.split(",") if s]
    for case in args.cases.split(","):
        globals()[f"bench_{case}"](args)


if __name__ == "__main__":
    main()
