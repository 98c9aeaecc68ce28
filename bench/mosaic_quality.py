"""Mosaic quality on real photos: greedy vs exact, and what face weighting buys.

The target is scikit-image's astronaut photo (or ``--target PATH``), rebuilt
from the other real photos in ``../shared/data``: the 143 ImageNet photos of
``photos-imagenet-coarse6`` and the 200 Instagram posts of
``instaloader-top20-celebs``. The grid is planned from the photo count
(:func:`core.mosaic.grid.plan_grid`), tiles are scored at 16x16, and the face and
person regions come from MediaPipe (``FEEDLENS_MODEL_DIR``, default
``../shared/models``). The mosaics are built by
:func:`core.mosaic.build.build_mosaic`, as the Mosaic page builds them: photo
tiles from 256-px thumbnails (in a temporary cache), face and person masks
found on the whole target and cropped to the grid.

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
import shutil
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.cache import DiskCache, sha256_file  # noqa: E402
from core.image.io import load_image  # noqa: E402
from core.mosaic import MosaicRequest, build_mosaic, find_regions, plan_grid  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 6), "unit": unit}), flush=True)


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def photo_paths(data: Path) -> list[Path]:
    found = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*"))
    found += sorted((data / "instaloader-top20-celebs").rglob("*.jpg"))
    return [p for p in found if p.suffix.lower() in {".jpg", ".jpeg", ".png"}]


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
    shas = [sha256_file(p) for p in paths]
    rows, cols = plan_grid(len(paths), target.shape[1] / target.shape[0])
    regions = find_regions(target)  # once, for every build below
    if regions.uniform_reason is not None:
        raise SystemExit(f"no face or person regions in the target ({regions.uniform_reason}: {regions.detail})")
    cache_root = Path(tempfile.mkdtemp(prefix="feedlens-mosaic-quality-"))
    try:
        cache = DiskCache(cache_root)
        request = MosaicRequest(target=target, shas=shas, paths=[str(p) for p in paths], rows=rows, cols=cols,
                                reuse=1, score_px=args.score, methods=("greedy", "exact"), weightings=(False, True),
                                alpha_face=args.alpha_face, alpha_person=args.alpha_person, falloff=args.width,
                                regions=regions)
        result = build_mosaic(request, cache=cache)
        lp = None
        if args.with_lp:  # uniform weights only: PuLP takes about a minute
            lp = build_mosaic(replace(request, methods=("lp",), weightings=(False,)), cache=cache).run("lp")
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)

    emit("mosaic_quality_photos", len(result.shas), f"photos (target: {name})")
    emit("mosaic_quality_tiles", rows * cols, f"tiles ({rows} x {cols})")
    emit("mosaic_quality_face_tiles", int((result.labels == 2).sum()), "tiles")
    emit("mosaic_quality_person_tiles", int((result.labels == 1).sum()), "tiles (person, not face)")

    greedy, exact = result.run("greedy").region_errors, result.run("exact").region_errors
    greedy_w, exact_w = result.run("greedy", True).region_errors, result.run("exact", True).region_errors
    g, e = greedy["all"], exact["all"]
    emit("mosaic_mse_greedy", g, "MSE")
    emit("mosaic_mse_exact", e, "MSE")
    emit("mosaic_mse_exact_vs_greedy_change", 100 * (e - g) / g, "% (seed: -26 %)")
    if lp is not None:
        exact_total = result.run("exact").errors.sum()
        emit("mosaic_mse_lp", lp.region_errors["all"], "MSE")
        emit("mosaic_lp_exact_rel_diff", abs(lp.errors.sum() - exact_total) / exact_total, "ratio")
        emit("mosaic_lp_s", lp.seconds, "s")
    emit("mosaic_face_mse_unweighted", exact["face"], "MSE")
    emit("mosaic_face_mse_weighted", exact_w["face"], "MSE")
    emit("mosaic_face_mse_greedy_unweighted", greedy["face"], "MSE")
    emit("mosaic_face_mse_greedy_weighted", greedy_w["face"], "MSE")
    emit("mosaic_person_mse_unweighted", exact["person"], "MSE")
    emit("mosaic_person_mse_weighted", exact_w["person"], "MSE")
    emit("mosaic_background_mse_unweighted", exact["background"], "MSE")
    emit("mosaic_background_mse_weighted", exact_w["background"], "MSE")
    emit("mosaic_mse_exact_weighted", exact_w["all"], "MSE")
    emit("mosaic_quality_exact_s", result.run("exact").seconds, "s")


if __name__ == "__main__":
    main()
