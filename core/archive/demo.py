"""The bundled demo archive, built from real photos that ship inside packages.

The photos come from scikit-image's ``data`` module, scikit-learn's sample
images and matplotlib's sample data. They have no engagement numbers: the
likes, comments, captions and dates below are **illustrative**, written for
the demo, and the archive says so (``illustrative_engagement=True``).
"""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ..cache import DiskCache, default_cache
from ..image.io import encode_jpeg
from .catalogue import Archive, load_folder

__all__ = ["DEMO_POSTS", "build_demo_folder", "load_demo"]

_VERSION = "demo-v1"

#: (name, source, caption, illustrative likes, illustrative comments, date)
DEMO_POSTS: list[tuple[str, str, str, int, int, str]] = [
    ("astronaut", "skimage:astronaut", "Suited up for launch day #space #portrait #nasa", 412, 31, "2025-01-04 16:20"),
    ("coffee", "skimage:coffee", "Morning ritual #coffee #breakfast #latteart", 188, 9, "2025-01-11 08:05"),
    ("chelsea", "skimage:chelsea", "Chelsea judging my life choices #cat #caturday #pets", 521, 44, "2025-01-18 12:40"),
    ("rocket", "skimage:rocket", "Liftoff! #space #rocket #launch", 367, 22, "2025-02-01 19:15"),
    ("hubble", "skimage:hubble_deep_field", "Every dot is a galaxy #space #astronomy #hubble", 296, 17, "2025-02-15 22:30"),
    ("cameraman", "skimage:camera", "Old-school shoot #blackandwhite #portrait #film", 143, 6, "2025-03-02 10:10"),
    ("moon", "skimage:moon", "Craters up close #moon #astronomy #blackandwhite", 201, 11, "2025-03-14 21:45"),
    ("coins", "skimage:coins", "Found in a drawer #vintage #coins #collection", 77, 4, "2025-03-29 15:00"),
    ("grass", "skimage:grass", "Texture study #nature #texture #macro", 64, 2, "2025-04-12 13:25"),
    ("gravel", "skimage:gravel", "Path to nowhere #texture #minimal", 52, 1, "2025-04-26 17:50"),
    ("brick", "skimage:brick", "Walls have stories #texture #architecture #urban", 85, 3, "2025-05-10 11:35"),
    ("motorcycle", "skimage:stereo_motorcycle", "Garage day #motorcycle #bike #weekend", 233, 15, "2025-05-24 14:05"),
    ("palace", "sklearn:china.jpg", "Summer palace #travel #architecture #china", 344, 19, "2025-06-07 09:30"),
    ("flower", "sklearn:flower.jpg", "Spring is here #flowers #nature #macro", 276, 12, "2025-06-21 18:10"),
    ("grace_hopper", "matplotlib:grace_hopper.jpg", "Admiral Grace Hopper #history #portrait #computing", 489, 37, "2025-07-05 12:00"),
]


def _load_source(source: str) -> np.ndarray:
    package, _, item = source.partition(":")
    if package == "skimage":
        import skimage.data

        image = getattr(skimage.data, item)()
        return image[0] if isinstance(image, tuple) else image  # stereo pairs: left view
    if package == "sklearn":
        from sklearn.datasets import load_sample_image

        return load_sample_image(item)
    if package == "matplotlib":
        from matplotlib import cbook
        from PIL import Image

        with cbook.get_sample_data(item) as fh:
            return np.asarray(Image.open(fh).convert("RGB"))
    raise ValueError(f"unknown demo source {source!r}")


def _to_rgb8(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.dtype == bool:
        image = image.astype(np.uint8) * 255
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3].astype(np.uint8))


def build_demo_folder(target: Path) -> Path:
    """Write the demo photos and their ``manifest.csv`` into ``target``.

    Built in a temporary sibling and renamed, so ``target`` is complete or
    absent. Returns ``target``.
    """
    if (target / "manifest.csv").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".demo-", dir=target.parent))
    try:
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(["file", "likes", "comments", "caption", "timestamp", "account", "photo_source"])
        for name, source, caption, likes, comments, when in DEMO_POSTS:
            (work / f"{name}.jpg").write_bytes(encode_jpeg(_to_rgb8(_load_source(source)), quality=92))
            writer.writerow([f"{name}.jpg", likes, comments, caption, when, "feedlens_demo", source])
        (work / "manifest.csv").write_text(buf.getvalue(), encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target


def load_demo(cache: DiskCache | None = None) -> Archive:
    """The demo archive (built into the cache on first use).

    Examples
    --------
    >>> load_demo().illustrative_engagement  # doctest: +SKIP
    True
    """
    cache = cache or default_cache()
    folder = build_demo_folder(cache.local_dir(_VERSION))
    archive = load_folder(folder, name="Demo archive", cache=cache)
    archive.illustrative_engagement = True
    return archive
