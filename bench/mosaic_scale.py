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


def case_dense(kind: str, n: int, size: int) -> dict:
    from core.mosaic.assignment import assignment_cost, cost_matrix, solve

    tiles, photos = problem(kind, n, n, size)
    before = usage()
    t = time.perf_counter()
    chosen = solve(tiles, photos, method="exact")
    seconds = time.perf_counter() - t
    objective = 0.0
    for s in range(0, n, 2048):  # the objective, without a second full matrix
        objective += assignment_cost(cost_matrix(tiles[s : s + 2048], photos), chosen[s : s + 2048])
    after = usage()
    return {"objective": objective, "seconds": seconds, "cpu_s": after["cpu_s"] - before["cpu_s"],
            "peak_mb": after["peak_mb"]}


def case_sparse(kind: str, n: int, n_photos: int, reuse: int, size: int, k: int) -> dict:
    from core.mosaic.sparse import assign_sparse

    tiles, photos = problem(kind, n, n_photos, size)
    before = usage()
    t = time.perf_counter()
    placed = assign_sparse(tiles, photos, reuse=reuse, k=k)
    seconds = time.perf_counter() - t
    after = usage()
    return {"objective": placed.objective, "lower_bound": placed.lower_bound, "seconds": seconds,
            "cpu_s": after["cpu_s"] - before["cpu_s"], "peak_mb": after["peak_mb"], "edges": placed.edges,
            "grown": placed.grown, "priced": placed.priced, "certified": placed.certified, "steps": placed.seconds}


CASES = {"dense": case_dense, "sparse": case_sparse}


def in_child(name: str, *args) -> dict:
    cmd = [sys.executable, __file__, "--case", json.dumps([name, *args])]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"case {name}{args} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_gap(args: argparse.Namespace) -> None:
    n = 10_000
    for kind in ("real", "random"):
        dense = in_child("dense", kind, n, args.score)
        sparse = in_child("sparse", kind, n, n, 1, args.score, args.k)
        gap = 100 * (sparse["objective"] / dense["objective"] - 1)
        tag = "" if kind == "real" else "_random"
        emit(f"mosaic_sparse_10000{tag}_gap", gap, "%")
        emit(f"mosaic_sparse_10000{tag}_bound_gap", 100 * (sparse["objective"] / sparse["lower_bound"] - 1), "%")
        emit(f"mosaic_sparse_10000{tag}_certified", float(sparse["certified"]), "bool")
        emit(f"mosaic_sparse_10000{tag}_pricing_rounds", len(sparse["priced"]), "rounds")
        for solver, r in (("dense", dense), ("sparse", sparse)):
            emit(f"mosaic_{solver}_10000{tag}_s", r["seconds"], "s")
            emit(f"mosaic_{solver}_10000{tag}_cpu_s", r["cpu_s"], "s")
            emit(f"mosaic_{solver}_10000{tag}_peak_mb", r["peak_mb"], "MB")


def bench_scale(args: argparse.Namespace) -> None:
    for n in args.sizes:
        for kind in args.kinds:
            for n_photos, reuse in ((n, 1), (12_000, -(-n // 12_000))):
                r = in_child("sparse", kind, n, n_photos, reuse, args.score, args.k)
                tag = f"{n}" + ("" if kind == "real" else "_random") + ("" if reuse == 1 else f"_reuse{reuse}")
                emit(f"mosaic_sparse_{tag}_s", r["seconds"], "s")
                emit(f"mosaic_sparse_{tag}_cpu_s", r["cpu_s"], "s")
                emit(f"mosaic_sparse_{tag}_peak_mb", r["peak_mb"], "MB")
                emit(f"mosaic_sparse_{tag}_bound_gap", 100 * (r["objective"] / r["lower_bound"] - 1), "%")
                emit(f"mosaic_sparse_{tag}_grown_rounds", len(r["grown"]), "rounds")
                emit(f"mosaic_sparse_{tag}_certified", float(r["certified"]), "bool")
                emit(f"mosaic_sparse_{tag}_pricing_rounds", len(r["priced"]), "rounds")
                for step, value in r["steps"].items():
                    emit(f"mosaic_sparse_{tag}_{step}_s", value, "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--case", help=argparse.SUPPRESS)
    parser.add_argument("--cases", default="gap,scale")
    parser.add_argument("--sizes", default="40000,100000")
    parser.add_argument("--kinds", default="real,random")
    parser.add_argument("--score", type=int, default=8, help="scoring tile side in px")
    parser.add_argument("--k", type=int, default=8, help="candidate photos per tile")
    args = parser.parse_args()
    if args.case:
        name, *rest = json.loads(args.case)
        print(json.dumps(CASES[name](*rest)), flush=True)
        return
    args.sizes = [int(s) for s in args.sizes.split(",") if s]
    args.kinds = [s for s in args.kinds.split(",") if s]
    for case in args.cases.split(","):
        globals()[f"bench_{case}"](args)


if __name__ == "__main__":
    main()
