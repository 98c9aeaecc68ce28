"""Mosaic quality on real photos: greedy vs exact, and what face weighting buys.

The target is scikit-image's astronaut photo (or ``--target PATH``), rebuilt
from the other real photos in ``../shared/data``: the 143 ImageNet photos of
``photos-imagenet-coarse6`` and the 200 Instagram posts of
``instaloader-top20-celebs``. The grid is planned from the photo count
(:func:`core.mosaic.grid.plan_grid`), tiles are scored at 16x16, and the face and
person regions come from MediaPipe (``FEEDLENS_MODEL_DIR``, default
``../shared/models``).

Reports (one JSON object per line, ``{"name", "value", "unit"}``):

* ``mosaic_mse_greedy``, ``mosaic_mse_exact``: mean tile MSE (pixels in
  [0, 1]) of the unweighted greedy and exact placements, and the change
  (the seed saw -26 % from greedy to its LP, 0.093 -> 0.069);
* ``mosaic_face_mse_unweighted``, ``mosaic_face_mse_weighted``: mean MSE of
  the face tiles, exact placement without and with tile weights (weighting
  must lower it), plus the person and background regions for context.

Run: ``python bench/mosaic_quality.py [--target PATH] [--score 16] [--with-lp]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from core import mosaic  # noqa: E402
from core.image.io import ImageError, load_image  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 6), "unit": unit}), flush=True)


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def photo_paths(data: Path) -> list[Path]:
    found = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*"))
    found += sorted((data / "instaloader-top20-celebs").rglob("*.jpg"))
    return [p for p in found if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]


def load_tiles(paths: list[Path], size: int) -> np.ndarray:
    tiles = []
    for path in paths:
        try:
            tiles.append(mosaic.square_tile(load_image(path, max_side=4 * size), size))
        except ImageError:
            continue
    return np.stack(tiles)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=Path, help="target photo (default: scikit-image's astronaut)")
    parser.add_argument("--score", type=int, default=16, help="scoring tile side in pixels")
    parser.add_argument("--alpha-face", type=float, default=10.0)
    parser.add_argument("--alpha-person", type=float, default=3.0)
    parser.add_argument("--width", type=float, default=2.0, help="falloff width in tiles")
    parser.add_argument("--with-lp", action="store_true", help="also solve the PuLP LP (about a minute)")
    args = parser.parse_args()
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir() / "models"))

    if args.target:
        target = load_image(args.target, max_side=1024)
        name = args.target.name
    else:
        import skimage.data

        target = skimage.data.astronaut()
        name = "skimage astronaut"
    paths = photo_paths(shared_dir() / "data")
    if args.target:
        paths = [p for p in paths if p.resolve() != args.target.resolve()]
    photos = load_tiles(paths, args.score)
    aspect = target.shape[1] / target.shape[0]
    rows, cols = mosaic.plan_grid(len(photos), aspect)
    tiles = mosaic.target_tiles(target, rows, cols, args.score)
    emit("mosaic_quality_photos", len(photos), f"photos (target: {name})")
    emit("mosaic_quality_tiles", rows * cols, f"tiles ({rows} x {cols})")

    from core.mosaic.regions import region_masks

    cropped = mosaic.crop_to_aspect(target, cols / rows)
    regions = region_masks(np.ascontiguousarray(cropped))
    face_cov = mosaic.mask_coverage(regions.face, rows, cols).ravel()
    person_cov = mosaic.mask_coverage(regions.person, rows, cols).ravel()
    labels = mosaic.region_labels(face_cov, person_cov)
    weights = mosaic.tile_weights(regions.face, regions.person, rows, cols, alpha_face=args.alpha_face,
                                  alpha_person=args.alpha_person, width=args.width).ravel()
    emit("mosaic_quality_face_tiles", int((labels == 2).sum()), "tiles")
    emit("mosaic_quality_person_tiles", int((labels == 1).sum()), "tiles (person, not face)")

    results = {}
    runs = [("greedy", None), ("exact", None), ("greedy", weights), ("exact", weights)]
    if args.with_lp:
        runs.insert(2, ("lp", None))
    for method, w in runs:
        start = time.perf_counter()
        chosen = mosaic.solve(tiles, photos, method=method, weights=w)
        elapsed = time.perf_counter() - start
        err = mosaic.tile_errors(tiles, photos, chosen)
        key = f"{method}{'_weighted' if w is not None else ''}"
        results[key] = (mosaic.region_means(err, labels), elapsed, err)

    g, e = results["greedy"][0]["all"], results["exact"][0]["all"]
    emit("mosaic_mse_greedy", g, "MSE")
    emit("mosaic_mse_exact", e, "MSE")
    emit("mosaic_mse_exact_vs_greedy_change", 100 * (e - g) / g, "% (seed: -26 %)")
    if "lp" in results:
        lp = results["lp"][2].sum()
        emit("mosaic_mse_lp", results["lp"][0]["all"], "MSE")
        emit("mosaic_lp_exact_rel_diff", abs(lp - results["exact"][2].sum()) / results["exact"][2].sum(), "ratio")
        emit("mosaic_lp_s", results["lp"][1], "s")
    emit("mosaic_face_mse_unweighted", results["exact"][0]["face"], "MSE")
    emit("mosaic_face_mse_weighted", results["exact_weighted"][0]["face"], "MSE")
    emit("mosaic_face_mse_greedy_unweighted", results["greedy"][0]["face"], "MSE")
    emit("mosaic_face_mse_greedy_weighted", results["greedy_weighted"][0]["face"], "MSE")
    emit("mosaic_person_mse_unweighted", results["exact"][0]["person"], "MSE")
    emit("mosaic_person_mse_weighted", results["exact_weighted"][0]["person"], "MSE")
    emit("mosaic_background_mse_unweighted", results["exact"][0]["background"], "MSE")
    emit("mosaic_background_mse_weighted", results["exact_weighted"][0]["background"], "MSE")
    emit("mosaic_mse_exact_weighted", results["exact_weighted"][0]["all"], "MSE")
    emit("mosaic_quality_exact_s", results["exact"][1], "s")


if __name__ == "__main__":
    main()
