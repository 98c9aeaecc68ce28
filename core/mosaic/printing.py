"""Print files of any size, drawn one strip of tiles at a time: PNG, TIFF or JPEG with their dpi.

A 1 m poster at 300 dpi is 11,811 px a side: 418 MB of RGB, which
:func:`core.mosaic.rendering.render` would hold at once. Here the mosaic is
drawn one row of tiles at a time (:func:`mosaic_strips`) and each strip goes
straight to the file:

* PNG by a small streaming writer (:func:`write_png_strips`: ``zlib`` fed row
  by row, the resolution in a ``pHYs`` chunk);
* TIFF by ``tifffile`` (256 px tiles from a generator, one band of tiles in
  memory, zlib, the resolution tags);
* JPEG by Pillow, which needs the whole picture: the strips go to a temporary
  raw file on disk that Pillow encodes through a memory map (file pages the
  kernel can drop, not the process's own memory).

:func:`physical_size` states the print's size in centimetres and
:func:`poster_pixels` turns a size on paper into pixels.
"""

from __future__ import annotations

import os
import struct
import tempfile
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..jobs import CancelCheck, Progress, check_cancel, report
from .grid import MosaicError

__all__ = ["PRINT_FORMATS", "physical_size", "poster_pixels", "mosaic_strips", "write_png_strips", "write_print"]

#: File formats of :func:`write_print` (by suffix: ``.png``, ``.tif``/``.tiff``, ``.jpg``/``.jpeg``).
PRINT_FORMATS = ("png", "tiff", "jpeg")
_SUFFIX = {".png": "png", ".tif": "tiff", ".tiff": "tiff", ".jpg": "jpeg", ".jpeg": "jpeg"}

#: ``adjust(tile_indices, tiles) -> tiles``: changes the photos of some tiles before they are drawn.
TileAdjust = Callable[[NDArray[np.intp], NDArray[np.uint8]], NDArray[np.uint8]]


def physical_size(width_px: int, height_px: int, dpi: int | None) -> tuple[float, float] | None:
    """The print's width and height in centimetres at ``dpi`` (None without a dpi).

    Examples
    --------
    >>> physical_size(11811, 8268, 300)
    (100.0, 70.0)
    >>> physical_size(100, 100, None) is None
    True
    """
    if not dpi:
        return None
    return round(width_px / dpi * 2.54, 1), round(height_px / dpi * 2.54, 1)


def poster_pixels(long_side_cm: float, dpi: int, aspect: float) -> tuple[int, int]:
    """Width and height in pixels of a print ``long_side_cm`` long at ``dpi`` with width / height ``aspect``.

    Examples
    --------
    >>> poster_pixels(100, 300, 1.0)
    (11811, 11811)
    >>> poster_pixels(70, 150, 0.75)
    (3100, 4134)
    """
    long_px = round(long_side_cm / 2.54 * dpi)
    if aspect >= 1:
        return long_px, max(1, round(long_px / aspect))
    return max(1, round(long_px * aspect)), long_px


def mosaic_strips(
    photo_tiles: NDArray[np.uint8],
    photo_of_tile: NDArray,
    rows: int,
    cols: int,
    *,
    adjust: TileAdjust | None = None,
    cancel: CancelCheck | None = None,
    progress: Progress | None = None,
) -> Iterator[NDArray[np.uint8]]:
    """The mosaic one row of tiles at a time: ``rows`` arrays of ``(s, cols * s, 3)`` uint8.

    Parameters
    ----------
    photo_tiles : (P, s, s, 3) uint8
        Photo tiles at print size.
    photo_of_tile : (rows * cols,) int
        Index into ``photo_tiles`` of each tile, in reading order.
    adjust : callable, optional
        ``adjust(tile_indices, tiles) -> tiles`` (colour transfer, for instance).

    Examples
    --------
    >>> tiles = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 9, np.uint8)])
    >>> [s[:, :, 0].tolist() for s in mosaic_strips(tiles, np.array([1, 0, 0, 1]), 2, 2)]
    [[[9, 9, 0, 0], [9, 9, 0, 0]], [[0, 0, 9, 9], [0, 0, 9, 9]]]
    """
    t = np.asarray(photo_tiles)
    s = t.shape[1]
    idx = np.asarray(photo_of_tile).reshape(rows, cols)
    for r in range(rows):
        check_cancel(cancel)
        placed = t[idx[r]]
        if adjust is not None:
            placed = adjust(np.arange(r * cols, (r + 1) * cols), placed)
        yield np.ascontiguousarray(placed.transpose(1, 0, 2, 3).reshape(s, cols * s, 3))
        report(progress, r + 1, rows, f"Drawing row {r + 1:,} of {rows:,}")


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png_strips(path: str | Path, strips: Iterator[NDArray[np.uint8]], width: int, height: int, *,
                     dpi: int | None = None, level: int = 3) -> None:
    """Write an RGB PNG from horizontal strips, never holding more than one strip.

    Each scanline gets PNG filter 0 (none) and goes through one ``zlib``
    stream split into ``IDAT`` chunks; ``dpi`` becomes a ``pHYs`` chunk.

    Examples
    --------
    >>> import tempfile, os
    >>> from PIL import Image
    >>> strips = [np.full((2, 3, 3), v, np.uint8) for v in (10, 200)]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     write_png_strips(os.path.join(tmp, "m.png"), iter(strips), 3, 4, dpi=300)
    ...     png = Image.open(os.path.join(tmp, "m.png"))
    ...     np.asarray(png)[:, 0, 0].tolist(), [round(d) for d in png.info["dpi"]]
    ([10, 10, 200, 200], [300, 300])
    """
    packer = zlib.compressobj(level)
    written = 0
    with open(path, "wb") as out:
        out.write(b"\x89PNG\r\n\x1a\n")
        out.write(_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)))
        if dpi:
            per_metre = round(dpi / 0.0254)
            out.write(_chunk(b"pHYs", struct.pack(">IIB", per_metre, per_metre, 1)))
        for strip in strips:
            if strip.shape[1:] != (width, 3) or strip.dtype != np.uint8:
                raise ValueError(f"strip of shape {strip.shape} {strip.dtype} for a {width} px wide RGB image")
            lines = np.empty((strip.shape[0], 1 + 3 * width), np.uint8)
            lines[:, 0] = 0
            lines[:, 1:] = strip.reshape(strip.shape[0], -1)
            data = packer.compress(lines.tobytes())
            if data:
                out.write(_chunk(b"IDAT", data))
            written += strip.shape[0]
        if written != height:
            raise ValueError(f"{written} rows written for a {height} px tall image")
        out.write(_chunk(b"IDAT", packer.flush()))
        out.write(_chunk(b"IEND", b""))


def _write_tiff(path: Path, strips: Iterator[NDArray[np.uint8]], width: int, height: int, dpi: int | None,
                side: int = 256) -> None:
    """A tiled TIFF (``side`` px tiles, zlib): strips are gathered into one band of tiles at a time."""
    import tifffile

    def tiles() -> Iterator[NDArray[np.uint8]]:
        band = np.zeros((side, width, 3), np.uint8)
        filled = 0
        for strip in strips:
            rows = strip
            while len(rows):
                take = min(side - filled, len(rows))
                band[filled : filled + take] = rows[:take]
                filled += take
                rows = rows[take:]
                if filled == side:
                    yield from (band[:, x : x + side] for x in range(0, width, side))
                    filled = 0
        if filled:
            band[filled:] = 0
            yield from (band[:, x : x + side] for x in range(0, width, side))

    extra = {"resolution": (dpi, dpi), "resolutionunit": "INCH"} if dpi else {}
    with tifffile.TiffWriter(path, bigtiff=height * width * 3 > 3_900_000_000) as tif:
        tif.write(tiles(), shape=(height, width, 3), dtype=np.uint8, photometric="rgb", compression="zlib",
                  tile=(side, side), **extra)


def _write_jpeg(path: Path, strips: Iterator[NDArray[np.uint8]], width: int, height: int, dpi: int | None,
                quality: int) -> None:
    from PIL import Image

    if max(width, height) > 65_535:
        raise MosaicError(f"JPEG is limited to 65,535 px a side ({width} x {height}); write PNG or TIFF.")
    fd, raw = tempfile.mkstemp(suffix=".rgbx", dir=os.path.dirname(os.path.abspath(path)))
    os.close(fd)
    try:
        pixels = np.lib.format.open_memmap(raw, mode="w+", dtype=np.uint8, shape=(height, width, 4))
        top = 0
        for strip in strips:
            pixels[top : top + len(strip), :, :3] = strip
            top += len(strip)
        pixels.flush()
        image = Image.frombuffer("RGBX", (width, height), pixels, "raw", "RGBX", 0, 1)  # shares the mapping
        extra = {"dpi": (dpi, dpi)} if dpi else {}
        image.save(path, "JPEG", quality=quality, subsampling=0, **extra)  # 4:4:4: small tiles keep their colours
        del image, pixels
    finally:
        os.unlink(raw)


def write_print(
    path: str | Path,
    strips: Iterator[NDArray[np.uint8]],
    width: int,
    height: int,
    *,
    dpi: int | None = None,
    fmt: str | None = None,
    quality: int = 92,
) -> Path:
    """Write the strips of a ``width x height`` RGB picture as PNG, TIFF or JPEG.

    Parameters
    ----------
    path : path
        The file; its suffix gives the format unless ``fmt`` does.
    strips : iterator of (h, width, 3) uint8
        From top to bottom (:func:`mosaic_strips`).
    dpi : int, optional
        Written into the file (PNG ``pHYs``, TIFF resolution, JPEG JFIF density).
    fmt : {"png", "tiff", "jpeg"}, optional
    quality : int
        JPEG quality.

    Returns
    -------
    Path

    Raises
    ------
    MosaicError
        An unknown format, or a JPEG over 65,535 px.
    """
    path = Path(path)
    fmt = fmt or _SUFFIX.get(path.suffix.lower())
    if fmt not in PRINT_FORMATS:
        raise MosaicError(f"{path.name}: choose a .png, .tif or .jpg file (got {path.suffix or 'no suffix'}).")
    if fmt == "png":
        write_png_strips(path, strips, width, height, dpi=dpi)
    elif fmt == "tiff":
        _write_tiff(path, strips, width, height, dpi)
    else:
        _write_jpeg(path, strips, width, height, dpi, quality)
    return path
