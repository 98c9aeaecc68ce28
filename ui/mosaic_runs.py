"""Settings, caches and build runs behind the Mosaic page.

Streamlit glue only: the algorithms live in :mod:`core.mosaic.assignment` and
:mod:`core.mosaic.regions`.
"""

from __future__ import annotations

import hashlib
import io
import math
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
import streamlit as st

import core.mosaic as M
from core.archive.ingest import THUMB_SIDE, thumbnail_bytes
from core.cache import DiskCache, default_cache
from core.image.geometry import crop_square
from core.image.io import ImageError, decode_image, load_image

TARGET_SIDE = 2048  # the target is kept at most this big (scoring and blending)
MAX_TILES = 10_000
MAX_PHOTOS = 12_000  # photos considered at most (a 12,000 x 12,000 float64 matrix is 1.15 GB)
LP_MAX_TILES = 2_500  # the seed: "at about 2,500 photos, over an hour or out of memory"
SUBPROCESS_PAIRS = 4_000_000  # tiles x photo slots above which a solve runs in a child process
PREVIEW_SIDE = 1600

METHOD_LABELS = {"exact": "Exact (Jonker–Volgenant)", "greedy": "Greedy best match", "lp": "PuLP LP"}
WEIGHT_LABELS = {False: "Uniform", True: "Face & person weighted"}
REGION_NAMES = {"all": "All tiles", "face": "Face", "person": "Person (not face)", "background": "Background"}

#: (label, width px, height px, dpi) -- portrait sizes; turned to match the target. None = the target's shape.
PRESETS: list[tuple[str, int | None, int | None, int | None]] = [
    ("Same shape as the target · 3000 px long side", None, None, None),
    ("Instagram portrait · 1080 × 1350 px", 1080, 1350, None),
    ("A4 · 150 dpi · 1240 × 1754 px", 1240, 1754, 150),
    ("A4 · 300 dpi · 2480 × 3508 px", 2480, 3508, 300),
    ("A3 · 300 dpi · 3508 × 4961 px", 3508, 4961, 300),
    ("Poster 50 × 70 cm · 150 dpi · 2953 × 4134 px", 2953, 4134, 150),
    ("Poster 50 × 70 cm · 300 dpi · 5906 × 8268 px", 5906, 8268, 300),
    ("Custom size", 0, 0, None),
]
PRESET_LABELS = [p[0] for p in PRESETS]


# -- shared caches ----------------------------------------------------------------------


@st.cache_resource
def _memory() -> OrderedDict:
    """Photo tiles and finished builds shared by every session (LRU)."""
    return OrderedDict()


STORE = _memory()  # captured here: the deferred download runs outside the script thread


def _memo_get(key: tuple):
    store = STORE
    if key in store:
        store.move_to_end(key)
        return store[key]
    return None


def _nbytes(value) -> int:
    if isinstance(value, np.ndarray):
        return value.nbytes
    if isinstance(value, (tuple, list)):
        return sum(_nbytes(v) for v in value)
    if isinstance(value, Build):
        return value.labels.nbytes + value.weights.nbytes + sum(r.photo_of_tile.nbytes + r.errors.nbytes
                                                                for r in value.runs)
    return 0


def _memo_put(key: tuple, value, limit: int = 16, budget: int = 512 * 1024**2) -> None:
    """Keep ``value``; drop the least recently used entries beyond ``limit`` or ``budget`` bytes."""
    store = STORE
    store[key] = value
    store.move_to_end(key)
    while len(store) > 1 and (len(store) > limit or sum(_nbytes(v) for v in store.values()) > budget):
        store.popitem(last=False)


@st.cache_data(show_spinner=False, max_entries=8)
def _archive_target(sha: str, path: str) -> np.ndarray:
    return load_image(path, max_side=TARGET_SIDE)


@st.cache_data(show_spinner=False, max_entries=8)
def _uploaded_target(digest: str, data: bytes) -> np.ndarray:
    return load_image(data, max_side=TARGET_SIDE)


@st.cache_data(show_spinner=False, max_entries=8)
def _display(digest: str, _image: np.ndarray) -> np.ndarray:
    """The target at most 1024 px, for the page."""
    from PIL import Image

    h, w = _image.shape[:2]
    scale = min(1.0, 1024 / max(h, w))
    if scale == 1.0:
        return _image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(_image).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))


@st.cache_data(show_spinner=False, max_entries=16)
def _regions(digest: str, model_dir: str | None, _image: np.ndarray) -> dict:
    """Face and person masks of the target (MediaPipe); errors are not cached."""
    from core.mosaic.regions import region_masks

    regions = region_masks(_image)
    return {"face": regions.face, "person": regions.person, "n_faces": regions.n_faces, "notes": regions.notes}


# -- photo tiles ---------------------------------------------------------------------------


def _tile_from_source(sha: str, path: str, size: int, cache: DiskCache) -> np.ndarray | None:
    kind = f"mosaic-tile{size}"
    cached = cache.get_array(kind, sha)
    if cached is not None and cached.shape == (size, size, 3):
        return cached
    try:
        if size <= THUMB_SIDE:
            data = thumbnail_bytes(sha, path, cache)
            if data is None:
                return None
            square = crop_square(load_image(data))
        else:
            decoded = decode_image(path, max_side=4 * size)
            square = crop_square(np.asarray(decoded.pixels))
    except (ImageError, OSError):
        return None
    tile = M.square_tile(square, size)
    cache.put_array(kind, sha, tile)
    return tile


def _load_tiles(shas: list[str], paths: list[str], size: int, progress=None) -> tuple[np.ndarray, list[int]]:
    """Square tiles of every photo at ``size`` px; returns (tiles, indices that failed)."""
    key = ("tiles", hashlib.sha256("\n".join(shas).encode()).hexdigest(), size)
    hit = _memo_get(key)
    if hit is not None:
        return hit
    cache = default_cache()
    out = np.zeros((len(shas), size, size, 3), np.uint8)
    failed: list[int] = []
    with ThreadPoolExecutor(max_workers=4) as pool:
        futures = [pool.submit(_tile_from_source, s, p, size, cache) for s, p in zip(shas, paths)]
        try:
            for i, future in enumerate(futures):
                tile = future.result()
                if tile is None:
                    failed.append(i)
                else:
                    out[i] = tile
                if progress is not None and (i % 16 == 0 or i == len(futures) - 1):
                    progress(i + 1, len(futures), f"Photo tiles at {size} px: {i + 1:,} of {len(futures):,}")
        finally:
            for future in futures:
                future.cancel()
    result = (out, failed)
    if not failed:
        _memo_put(key, result)
    return result


# -- build ---------------------------------------------------------------------------------


@dataclass
class Run:
    method: str
    weighted: bool
    photo_of_tile: np.ndarray
    errors: np.ndarray
    regions: dict
    objective: float
    seconds: float

    @property
    def label(self) -> str:
        return f"{METHOD_LABELS[self.method]} · {WEIGHT_LABELS[self.weighted].lower()}"


@dataclass
class Build:
    signature: tuple
    rows: int
    cols: int
    tile_px: int
    shas: list[str]
    paths: list[str]
    labels: np.ndarray
    weights: np.ndarray
    dpi: int | None
    target_digest: str
    runs: list[Run] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    step_seconds: dict = field(default_factory=dict)


def _estimate_s(method: str, n_tiles: int, n_slots: int) -> float:
    """Rough solve time on this machine (bench/mosaic.py), for the progress bar."""
    if method == "lp":
        return 1.5e-4 * n_tiles * n_slots + 3
    if method == "exact":
        return 8.0 * (max(n_tiles, n_slots) / 10_000) ** 2.3 + 1.5
    return 3.0 * (n_tiles * n_slots / 1e8) + 1.5


def _solve(method: str, tiles, photos, weights, reuse: int, bar) -> np.ndarray:
    n_t, n_slots = len(tiles), len(photos) * reuse
    if method != "lp" and n_t * n_slots < SUBPROCESS_PAIRS:
        bar.progress(0.5, text=f"{METHOD_LABELS[method]}: placing {n_t:,} tiles…")
        return M.solve(tiles, photos, method=method, weights=weights, reuse=reuse)
    estimate = _estimate_s(method, n_t, n_slots)

    caveat = "; many similar photos or tiles can take several times longer" if method == "exact" else ""

    def poll(elapsed: float) -> None:
        # approaches 1 without stopping: the estimate is only a guide
        bar.progress(min(0.99, 1.0 - math.exp(-elapsed / estimate)),
                     text=f"{METHOD_LABELS[method]}: {n_t:,} tiles × {n_slots:,} photo slots · "
                          f"{elapsed:.0f} s (estimate: about {estimate:.0f} s{caveat})")

    poll(0.0)
    return M.run_in_subprocess(M.solve, tiles, photos, method=method, weights=weights, reuse=reuse, poll=poll)


def _run_build(settings: dict, target: np.ndarray, regions: dict | None, status) -> Build:
    rows, cols, score, reuse = settings["rows"], settings["cols"], settings["score"], settings["reuse"]
    shas, paths = settings["shas"], settings["paths"]
    bar = st.progress(0.0, text="Preparing…")
    st.button("Cancel", key="mosaic_cancel", icon=":material/cancel:")
    steps: dict[str, float] = {}

    start = time.perf_counter()
    status.update(label="Cutting the photos into square tiles…", expanded=True)
    photos, failed = _load_tiles(shas, paths, score, progress=lambda d, t, m: bar.progress(d / max(t, 1), text=m))
    notes = []
    if failed:
        keep = np.setdiff1d(np.arange(len(shas)), failed)
        photos = photos[keep]
        shas = [shas[i] for i in keep]
        paths = [paths[i] for i in keep]
        notes.append(f"{len(failed)} photo(s) could not be read and were left out.")
    M.check_capacity(rows * cols, len(shas), reuse)
    tiles = M.target_tiles(target, rows, cols, score)
    steps["Tiles"] = time.perf_counter() - start

    face = person = None
    if regions is not None:
        face = M.crop_to_aspect(regions["face"], cols / rows)
        person = M.crop_to_aspect(regions["person"], cols / rows)
    face_cov = M.mask_coverage(face, rows, cols).ravel() if face is not None else np.zeros(rows * cols)
    person_cov = M.mask_coverage(person, rows, cols).ravel() if person is not None else np.zeros(rows * cols)
    labels = M.region_labels(face_cov, person_cov)
    weights = M.tile_weights(face, person, rows, cols, alpha_face=settings["alpha_face"],
                             alpha_person=settings["alpha_person"], width=settings["width"]).ravel()

    build = Build(signature=settings["signature"], rows=rows, cols=cols, tile_px=settings["tile_px"],
                  shas=shas, paths=paths, labels=labels, weights=weights, dpi=settings["dpi"],
                  target_digest=settings["target_digest"], notes=notes, step_seconds=steps)
    runs = settings["runs"]
    for k, (method, weighted) in enumerate(runs, start=1):
        label = f"{METHOD_LABELS[method]} · {WEIGHT_LABELS[weighted].lower()}"
        status.update(label=f"Step {k} of {len(runs)}: {label}…", expanded=True)
        bar.progress(0.0, text=f"{label}…")
        w = weights if weighted else None
        t0 = time.perf_counter()
        chosen = _solve(method, tiles, photos, w, reuse, bar)
        seconds = time.perf_counter() - t0
        errors = M.tile_errors(tiles, photos, chosen)
        objective = float((errors * (w if w is not None else 1.0)).sum())
        build.runs.append(Run(method, weighted, chosen, errors, M.region_means(errors, labels), objective, seconds))
    bar.progress(1.0, text="Done")
    return build


# -- rendering -----------------------------------------------------------------------------


def _render(build: Build, run: Run, tile_px: int, target: np.ndarray | None, blend: float) -> np.ndarray:
    used = np.unique(run.photo_of_tile)
    tiles, failed = _load_tiles([build.shas[i] for i in used], [build.paths[i] for i in used], tile_px)
    lookup = np.zeros(len(build.shas), np.intp)
    lookup[used] = np.arange(len(used))
    image = M.render(tiles, lookup[run.photo_of_tile], build.rows, build.cols)
    if blend > 0 and target is not None:
        image = M.blend(image, target, blend)
    return image


def _png(image: np.ndarray, dpi: int | None) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    Image.fromarray(image).save(buf, "PNG", compress_level=3, **extra)
    return buf.getvalue()
