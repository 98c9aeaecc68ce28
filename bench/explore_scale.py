"""Explore at scale: 10,000 generated photos end to end, a 100,000-point map, the map page in Chromium.

Each step runs in its own child process, so its wall time and peak RSS
(``os.wait4``'s ``ru_maxrss``) are its own:

* **10,000 photos** (``--photos``, default 10,000): generated 96×96 JPEGs in
  twelve styles (a hue and a texture each: stripes, checks, rings, dots,
  noise, gradients) whose popularity drifts over ten years of dates, with
  likes, named in the scraper scheme ``<id>_<likes>_<comments>_<unix time>.jpg``
  so a folder import reads them. Steps: ``import`` (hash, thumbnails),
  ``features`` (colour & texture, cached), ``map`` (features read back from
  the cache, PCA + openTSNE as the page does), ``clusters`` (K-Means, k = 12,
  on the PCA features): ``explore_<step>_10000_s`` and ``..._peak_mb``.
* **100,000 points** (``--points``): generating and importing 100,000 photos
  takes too long on this loaded 2-core machine, so the map steps run on
  **generated feature vectors** (512-d, a 40-component mixture in a 20-d
  latent space, pushed through a random ReLU layer, like histogram
  features), written to the disk cache in chunks of 10,000 rows and read back
  chunk by chunk. ``explore_map_100000_s`` / ``_peak_mb``: read + PCA +
  t-SNE with the page's :class:`~core.explore.photomap.PhotoMap` (fit on a
  20,000 sample, the rest placed with openTSNE's ``transform``).
  ``explore_map_100000_reference_s``: openTSNE's defaults (``TSNE(n_jobs=2)``)
  on the same PCA features (``--skip-reference`` to skip: it takes minutes).
  ``explore_map_100000_trust_diff``: trustworthiness (k = 10, the same 5,000
  random points, in the PCA space both maps saw) of ours minus the
  reference's. ``--options`` also times the full fit with the page's
  iterations (``max_fit=None``). Every step also reports ``..._cpu_s``
  (user + system seconds of its process): on a loaded machine, CPU seconds
  / 2 cores bound what an idle 2-core machine would take.
* **The page in Chromium** (``--skip-browser`` to skip):
  ``bench/explore_scale_page.py`` (a Streamlit script drawing the Explore
  page's own figure, :func:`core.explore.figure.explore_figure` (lean above
  20,000 points), with the page's selection and first gallery page of 60
  thumbnails) served by ``streamlit run``, opened in Debian's Chromium:
  ``explore_payload_100000_mb`` (WebSocket bytes received until the map is
  drawn), ``explore_draw_100000_s`` (page open to map drawn),
  ``explore_select_10000_s`` (a box drag over about 10,000 points until the
  gallery's first photo is shown).

Prints one JSON object per line: ``{"name", "value", "unit"}``.
Run: ``python bench/explore_scale.py [--photos 10000] [--points 100000] [--skip-reference] [--skip-browser]``
(``--browser-only``: just the page in Chromium, on the map and photos of an earlier run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

OUT = REPO / "bench" / "out" / "explore_scale"
STYLES = 12
TEXTURES = ("stripes", "checks", "rings", "dots", "noise", "gradient")
VECTOR_KIND, CHUNK = "bench-vectors", 10_000


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


# --- generated photos -------------------------------------------------------------------------------------------


def make_photo(rng: np.random.Generator, style: int, side: int = 96) -> np.ndarray:
    """A ``side``² RGB photo of one style: its hue, its texture, random phase, scale and brightness."""
    import colorsys

    yy, xx = np.mgrid[0:side, 0:side] / side
    texture = TEXTURES[style % len(TEXTURES)]
    freq = 3 + 2 * (style // len(TEXTURES)) + rng.uniform(-1, 1)
    phase = rng.uniform(0, 2 * np.pi)
    if texture == "stripes":
        v = np.sin(2 * np.pi * freq * xx + phase)
    elif texture == "checks":
        v = np.sign(np.sin(2 * np.pi * freq * xx + phase) * np.sin(2 * np.pi * freq * yy))
    elif texture == "rings":
        v = np.sin(2 * np.pi * freq * np.hypot(xx - 0.5, yy - 0.5) * 2 + phase)
    elif texture == "dots":
        v = np.cos(2 * np.pi * freq * xx + phase) * np.cos(2 * np.pi * freq * yy + phase) > 0.5
    elif texture == "noise":
        v = rng.normal(size=(side, side))
    else:
        v = xx * np.cos(phase) + yy * np.sin(phase)
    v = np.asarray(v, float)
    v = (v - v.min()) / (np.ptp(v) + 1e-9)
    hue = (style / STYLES + rng.normal(0, 0.03)) % 1.0
    base = np.array(colorsys.hsv_to_rgb(hue, rng.uniform(0.5, 1.0), 1.0))
    other = np.array(colorsys.hsv_to_rgb((hue + 0.5) % 1.0, 0.3, 0.4))
    brightness = rng.uniform(0.5, 1.0)
    img = (v[..., None] * base + (1 - v[..., None]) * other) * brightness * 255
    img += rng.normal(0, 6, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def make_photos(folder: Path, n: int, seed: int = 0) -> None:
    """``n`` photos over ten years; each style is most popular in its own stretch of time."""
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    start, span = 1_420_070_400, 10 * 365 * 86_400  # 2015-01-01, ten years
    times = np.sort(rng.uniform(0, 1, n))
    for i, t in enumerate(times):
        peaks = (np.arange(STYLES) + 0.5) / STYLES
        weights = np.exp(-((t - peaks) ** 2) / (2 * 0.12**2))
        style = int(rng.choice(STYLES, p=weights / weights.sum()))
        likes = int(rng.lognormal(4 + 0.15 * (style % 4), 0.6))
        name = f"{1_000_000 + i}_{likes}_{likes // 20}_{int(start + t * span)}.jpg"
        Image.fromarray(make_photo(rng, style)).save(folder / name, quality=85)


# --- generated vectors ------------------------------------------------------------------------------------------


def make_vectors(cache, n: int, dim: int = 512, seed: int = 0) -> None:
    """``n`` structured feature vectors, written to the cache in chunks of :data:`CHUNK` rows."""
    rng = np.random.default_rng(seed)
    components, latent = 40, 20
    centres = rng.normal(0, 4, (components, latent))
    spreads = rng.uniform(0.5, 2.5, components)
    weights = rng.dirichlet(np.full(components, 2.0))
    layer = rng.normal(0, 1 / np.sqrt(latent), (latent, dim))
    for start in range(0, n, CHUNK):
        m = min(CHUNK, n - start)
        which = rng.choice(components, m, p=weights)
        z = centres[which] + rng.normal(size=(m, latent)) * spreads[which, None]
        x = np.maximum(z @ layer, 0) + rng.exponential(0.05, (m, dim))
        cache.put_array(VECTOR_KIND, f"{n}-{start}", x.astype(np.float32))


def read_vectors(cache, n: int, dim: int = 512) -> np.ndarray:
    """The vectors back from the cache, one chunk at a time into one float32 matrix."""
    X = np.empty((n, dim), np.float32)
    for start in range(0, n, CHUNK):
        chunk = cache.get_array(VECTOR_KIND, f"{n}-{start}")
        X[start : start + len(chunk)] = chunk
    return X


# --- steps (each in a child process) ----------------------------------------------------------------------------


def _cache():
    from core.cache import DiskCache

    return DiskCache(OUT / "cache")


def _photo_items(n: int):
    from core.archive.catalogue import load_folder

    archive = load_folder(OUT / f"photos_{n}", cache=_cache())
    return archive, list(zip(archive.catalogue["sha256"].astype(str), archive.catalogue["path"].astype(str)))


def step(name: str, n: int) -> None:
    from core.explore.features import ColourTexture, compute_features
    from core.explore.photomap import PhotoMap, kmeans_labels

    if name == "photos":
        make_photos(OUT / f"photos_{n}", n)
    elif name == "import":
        archive, _ = _photo_items(n)
        print(f"imported {len(archive.catalogue)}", file=sys.stderr)
    elif name == "features":
        _, items = _photo_items(n)
        result = compute_features(items, ColourTexture(), cache=_cache(), chunk=256)
        print(f"features computed {result.computed} reused {result.reused}", file=sys.stderr)
    elif name == "map":
        if n > 20_000:
            X = read_vectors(_cache(), n)
        else:
            _, items = _photo_items(n)
            X = compute_features(items, ColourTexture(), cache=_cache()).features
        photo_map = PhotoMap(random_state=0).fit(X)
        np.save(OUT / f"coords_{n}.npy", photo_map.coords_)
        np.save(OUT / f"pca_{n}.npy", photo_map.pca_features_)
    elif name.startswith("option-"):
        X = read_vectors(_cache(), n)
        max_fit = None if name == "option-full" else int(name.split("-")[1])
        np.save(OUT / f"coords_{n}_{name}.npy", PhotoMap(random_state=0, max_fit=max_fit).fit(X).coords_)
    elif name == "reference":
        import openTSNE

        Z = np.load(OUT / f"pca_{n}.npy")
        np.save(OUT / f"coords_{n}_reference.npy", np.asarray(openTSNE.TSNE(n_jobs=2, random_state=0).fit(Z)))
    elif name == "clusters":
        labels = kmeans_labels(np.load(OUT / f"pca_{n}.npy"), 12)
        np.save(OUT / f"clusters_{n}.npy", labels.astype(np.int16))
    else:
        raise SystemExit(f"unknown step {name}")


def run_step(name: str, n: int, label: str | None = None) -> tuple[float, float]:
    """Run one step in a child process; emit its CPU seconds; return ``(wall seconds, peak RSS in MB)``.

    CPU seconds (user + system) say more than wall time on a loaded machine:
    divided by the 2 cores they bound the wall time on an idle one.
    """
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, __file__, "--step", name, "--n", str(n)], cwd=REPO)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"step {name} {n} failed ({proc.returncode})")
    if label:
        emit(f"{label}_cpu_s", usage.ru_utime + usage.ru_stime, "s")
    return time.perf_counter() - start, usage.ru_maxrss / 1024


def trust(n: int, coords: np.ndarray, sample: int = 5000) -> float:
    from core.explore.photomap import trustworthiness_subsample

    return trustworthiness_subsample(np.load(OUT / f"pca_{n}.npy"), coords, n_neighbors=10, n_sample=sample)


# --- the page in Chromium ---------------------------------------------------------------------------------------


def browser_measure(n: int, photos: int, select_target: int = 10_000) -> dict:
    """Serve bench/explore_scale_page.py, open it in Chromium: payload, draw time, selection time."""
    import socket
    import urllib.request

    from playwright.sync_api import sync_playwright

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {**os.environ, "FEEDLENS_BENCH_N": str(n), "FEEDLENS_BENCH_PHOTOS": str(photos),
           "FEEDLENS_BENCH_DIR": str(OUT), "FEEDLENS_CACHE_DIR": str(OUT / "cache")}
    log = open(OUT / "streamlit.log", "w")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(REPO / "bench" / "explore_scale_page.py"),
         "--server.port", str(port), "--server.headless", "true", "--browser.gatherUsageStats", "false",
         "--server.maxMessageSize", "200"], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.3)
        out = {}
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=shutil.which("chromium") or "/usr/bin/chromium",
                                         args=["--no-sandbox", "--use-gl=swiftshader", "--enable-unsafe-swiftshader"])
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            received = {"bytes": 0}

            def on_socket(ws) -> None:
                ws.on("framereceived", lambda payload: received.__setitem__(
                    "bytes", received["bytes"] + len(payload if isinstance(payload, (bytes, str)) else b"")))

            page.on("websocket", on_socket)
            # Warm the server's caches once (the first run reads the coordinates), then measure a fresh page.
            page.goto(url)
            page.locator(".st-key-explore_map .gl-canvas-context, .st-key-explore_map canvas").first.wait_for(
                timeout=300_000)
            page.close()
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            received["bytes"] = 0
            page.on("websocket", on_socket)
            start = time.perf_counter()
            page.goto(url)
            page.locator(".st-key-explore_map .gl-canvas-context, .st-key-explore_map canvas").first.wait_for(
                timeout=300_000)
            page.wait_for_function("() => { const d = document.querySelector('.st-key-explore_map .js-plotly-plot');"
                                   " return d && d._fullLayout && d._fullData && d._fullData.length > 0; }",
                                   timeout=300_000)
            out["draw_s"] = time.perf_counter() - start
            out["payload_mb"] = received["bytes"] / 1e6
            box = page.locator(".st-key-explore_map .nsewdrag").first.bounding_box()
            # A box from the left edge over the share of the map's width that holds ~select_target points.
            xs = np.sort(np.load(OUT / f"coords_{n}.npy")[:, 0])
            cut = xs[min(select_target, n) - 1]
            frac = float((cut - xs[0]) / (xs[-1] - xs[0]))
            page.screenshot(path=str(OUT / "explore_scale_map.png"))
            left, top = box["x"] + 1, box["y"] + 1
            width = (box["width"] - 2) * (0.02 + 0.96 * frac) + 2  # plotly pads the axes by ~2 %
            start = time.perf_counter()
            page.mouse.move(left, top)
            page.mouse.down()
            page.mouse.move(left + width / 2, top + box["height"] / 2, steps=5)
            page.mouse.move(left + width, top + box["height"] - 2, steps=5)
            page.mouse.up()
            page.locator(".st-key-explore_gallery img").first.wait_for(timeout=300_000)
            out["select_s"] = time.perf_counter() - start
            caption = page.locator(".st-key-explore_gallery").inner_text()
            out["selected"] = caption.split(" selected")[0].split()[-1] if " selected" in caption else "?"
            page.screenshot(path=str(OUT / "explore_scale_selection.png"), full_page=True)
            browser.close()
        return out
    finally:
        server.terminate()
        server.wait(timeout=20)
        log.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step")
    parser.add_argument("--n", type=int)
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--skip-reference", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--options", action="store_true", help="also time the full fit (max_fit=None)")
    parser.add_argument("--skip-photos", action="store_true", help="only the 100,000-point steps")
    parser.add_argument("--browser-only", action="store_true",
                        help="only the page in Chromium, on the map and photos an earlier run left in bench/out")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.step:
        step(args.step, args.n)
        return
    p, n = args.photos, args.points
    if args.browser_only:
        missing = [f.name for f in (OUT / f"coords_{n}.npy", OUT / f"clusters_{n}.npy", OUT / f"photos_{p}")
                   if not f.exists()]
        if missing:
            raise SystemExit(f"--browser-only needs an earlier run's {', '.join(missing)} in {OUT}")
        measured = browser_measure(n, p)
        emit(f"explore_payload_{n}_mb", measured["payload_mb"], "MB")
        emit(f"explore_draw_{n}_s", measured["draw_s"], "s")
        emit("explore_select_10000_s", measured["select_s"], "s")
        print(json.dumps({"name": "explore_select_10000_selected", "value": measured["selected"], "unit": "photos"}))
        return
    if not (OUT / f"photos_{p}").is_dir() or len(list((OUT / f"photos_{p}").iterdir())) < p:
        shutil.rmtree(OUT / f"photos_{p}", ignore_errors=True)
        seconds, _ = run_step("photos", p)
        emit(f"explore_generate_{p}_photos_s", seconds, "s")
    for name in () if args.skip_photos else ("import", "features", "map", "clusters"):
        seconds, peak = run_step(name, p, f"explore_{name}_{p}")
        emit(f"explore_{name}_{p}_s", seconds, "s")
        emit(f"explore_{name}_{p}_peak_mb", peak, "MB")
    if not args.skip_photos:
        emit(f"explore_map_{p}_trust", trust(p, np.load(OUT / f"coords_{p}.npy")), "trustworthiness")

    from core.cache import DiskCache

    cache = DiskCache(OUT / "cache")
    if cache.get_array(VECTOR_KIND, f"{n}-{(n - 1) // CHUNK * CHUNK}") is None:
        make_vectors(cache, n)
    seconds, peak = run_step("map", n, f"explore_map_{n}")
    emit(f"explore_map_{n}_s", seconds, "s")
    emit(f"explore_map_{n}_peak_mb", peak, "MB")
    ours = trust(n, np.load(OUT / f"coords_{n}.npy"))
    emit(f"explore_map_{n}_trust", ours, "trustworthiness")
    seconds, _ = run_step("clusters", n)
    emit(f"explore_clusters_{n}_s", seconds, "s")
    if not args.skip_browser:
        measured = browser_measure(n, p)
        emit(f"explore_payload_{n}_mb", measured["payload_mb"], "MB")
        emit(f"explore_draw_{n}_s", measured["draw_s"], "s")
        emit("explore_select_10000_s", measured["select_s"], "s")
        print(json.dumps({"name": "explore_select_10000_selected", "value": measured["selected"], "unit": "photos"}))
    if args.options:
        for option in ("option-full",):
            seconds, peak = run_step(option, n, f"explore_map_{n}_{option.split('-')[1]}")
            emit(f"explore_map_{n}_{option.split('-')[1]}_s", seconds, "s")
            emit(f"explore_map_{n}_{option.split('-')[1]}_peak_mb", peak, "MB")
            emit(f"explore_map_{n}_{option.split('-')[1]}_trust",
                 trust(n, np.load(OUT / f"coords_{n}_{option}.npy")), "trustworthiness")
    if not args.skip_reference:
        seconds, peak = run_step("reference", n, f"explore_map_{n}_reference")
        emit(f"explore_map_{n}_reference_s", seconds, "s")
        emit(f"explore_map_{n}_reference_peak_mb", peak, "MB")
        reference = trust(n, np.load(OUT / f"coords_{n}_reference.npy"))
        emit(f"explore_map_{n}_reference_trust", reference, "trustworthiness")
        emit(f"explore_map_{n}_trust_diff", ours - reference, "trustworthiness")


if __name__ == "__main__":
    main()
