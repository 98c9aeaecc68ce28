"""Benchmark: "slider -> new image" cost of the photo-lab filters.

Times one pipeline step on a 1080x1080 RGB photo, the way the page runs it
when a slider moves: the preview image is already decoded and cached as
float32, so the cost is building the (validated) pipeline, running the step
and converting the result to uint8 for display. Each figure is the median of
several runs after one warm-up run.

Prints one JSON object per line, ``{"name": ..., "value": ..., "unit": ...}``:
the photo size, then ``filters_gaussian_ms`` (sigma 5), ``filters_median_ms``
(5x5), ``filters_sobel_ms`` (magnitude on luminance), ``filters_kernel5_ms``
(custom 5x5 kernel), ``filters_equalize_ms`` and ``filters_clahe_ms`` (both
on luminance), the six with a 150 ms target, then a few informational
per-channel variants.

Usage::

    .venv/bin/python bench/filters.py [--photo PATH] [--runs 7] [--check]

Without ``--photo`` the astronaut photo from scikit-image is resized to
1080x1080. With ``--photo`` the image is centre-cropped to a square and
resized. ``--check`` exits with status 1 if a targeted step is slower than
150 ms. Decoding, cropping and resizing go through ``core.image``, the
filters through ``core.filters``: the benchmark times exactly what the app runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core import filters as F  # noqa: E402
from core.filters import Pipeline, Step  # noqa: E402
from core.image import load_image, square_resize  # noqa: E402

SIDE = 1080
TARGET_MS = 150.0

#: (metric name, step name, params, targeted?)
CASES: list[tuple[str, str, dict, bool]] = [
    ("filters_gaussian_ms", "gaussian_blur", {"sigma": 5.0}, True),
    ("filters_median_ms", "median_blur", {"size": 5}, True),
    ("filters_sobel_ms", "edges", {"operator": "sobel"}, True),
    (
        "filters_kernel5_ms",
        "convolve_kernel",
        {"kernel": F.KERNEL_PRESETS["gaussian5"], "mode": "reflect"},
        True,
    ),
    ("filters_equalize_ms", "equalize_hist", {}, True),
    ("filters_clahe_ms", "equalize_clahe", {"clip_limit": 0.01}, True),
    # informational: the per-channel variants of the luminance steps
    ("filters_sobel_per_channel_ms", "edges", {"channel_mode": "per_channel"}, False),
    ("filters_equalize_per_channel_ms", "equalize_hist", {"channel_mode": "per_channel"}, False),
    ("filters_clahe_per_channel_ms", "equalize_clahe", {"channel_mode": "per_channel"}, False),
]


def load_photo(path: str | None) -> np.ndarray:
    """Return a SIDE x SIDE float32 RGB photo in [0, 1]."""
    if path:
        rgb = load_image(path)  # EXIF orientation applied, RGB
    else:
        from skimage import data

        rgb = data.astronaut()
    return F.to_float(square_resize(rgb, SIDE))


def time_step(work: np.ndarray, name: str, params: dict, runs: int) -> float:
    """Median wall time in ms of validate + run + to uint8."""

    def once() -> None:
        Pipeline([Step(name, params)]).render(work)

    once()  # warm-up (imports, caches)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        once()
        times.append((time.perf_counter() - t0) * 1000.0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photo", help="photo to use instead of skimage's astronaut")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per step (median is printed)")
    parser.add_argument("--check", action="store_true", help="exit 1 if a targeted step misses 150 ms")
    args = parser.parse_args(argv)

    work = load_photo(args.photo)
    h, w, c = work.shape

    def emit(name: str, value: float, unit: str) -> None:
        print(json.dumps({"name": name, "value": value, "unit": unit}), flush=True)

    emit("filters_photo_width_px", w, "px")
    emit("filters_photo_height_px", h, "px")
    emit("filters_photo_channels", c, "channels")
    misses = []
    for metric, step, params, targeted in CASES:
        ms = round(time_step(work, step, params, args.runs), 1)
        emit(metric, ms, "ms")
        if targeted and ms > TARGET_MS:
            misses.append(metric)
    if misses:
        print(f"over the {TARGET_MS:g} ms target: {', '.join(misses)}", file=sys.stderr)
        return 1 if args.check else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
