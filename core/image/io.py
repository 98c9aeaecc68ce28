"""Safe image decoding: every user image goes through here.

Pillow is the decoder. On top of it this module applies the EXIF orientation,
turns every colour mode into 8-bit RGB, refuses decompression bombs before any
pixel is decoded, and reports every failure as :class:`ImageError` with a
message a user can read.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..config import LIMITS
from ..jobs import JobError

__all__ = [
    "UPLOAD_TYPES",
    "ImageError",
    "DecodedImage",
    "open_image",
    "to_rgb",
    "decode_image",
    "load_image",
    "encode_jpeg",
]

# Our own pixel cap is checked explicitly below, with a clear per-file
# message. Pillow's global guard stays on as a backstop well above it (it
# raises at twice this), and its warning is silenced: a warning on stderr is
# not something a user of the app ever sees.
Image.MAX_IMAGE_PIXELS = LIMITS.max_image_pixels * 8
warnings.simplefilter("ignore", Image.DecompressionBombWarning)

_WHITE = (255, 255, 255)


#: File types a page accepts for a single uploaded photo (``st.file_uploader(type=...)``).
UPLOAD_TYPES = ("jpg", "jpeg", "png", "webp", "bmp", "gif", "tif", "tiff")


class ImageError(JobError, ValueError):
    """A user image that cannot be used; the message says why."""


@dataclass
class DecodedImage:
    """An image decoded to RGB, with what was learned on the way.

    Attributes
    ----------
    pixels : PIL.Image.Image
        RGB image, EXIF orientation applied (possibly reduced, see ``reduced``).
    width, height : int
        Full-resolution size after EXIF orientation.
    format : str
        Pillow's name for the file format (``"JPEG"``, ``"PNG"`` ...).
    notes : list of str
        Changes made that a user should know about (first frame of an
        animation used, 16-bit depth reduced, ...).
    taken_at : str or None
        EXIF ``DateTimeOriginal`` (camera local time, ``"YYYY:MM:DD HH:MM:SS"``).
    """

    pixels: Image.Image
    width: int
    height: int
    format: str
    notes: list[str]
    taken_at: str | None = None


def _source(data: bytes | str | Path) -> io.BytesIO | Path:
    if isinstance(data, (bytes, bytearray, memoryview)):
        if len(data) == 0:
            raise ImageError("empty file (0 bytes)")
        return io.BytesIO(bytes(data))
    path = Path(data)
    size = path.stat().st_size
    if size == 0:
        raise ImageError("empty file (0 bytes)")
    if size > LIMITS.max_file_bytes:
        raise ImageError(
            f"file is {size / 1024**2:.0f} MB; the limit is {LIMITS.max_file_bytes / 1024**2:.0f} MB"
        )
    return path


def open_image(data: bytes | str | Path, *, max_pixels: int | None = None) -> Image.Image:
    """Open an image lazily (header only) and check its pixel count.

    Parameters
    ----------
    data : bytes or path
        The encoded file.
    max_pixels : int, optional
        Largest accepted ``width * height``; defaults to the configured limit.

    Returns
    -------
    PIL.Image.Image
        The opened, not yet decoded image.

    Raises
    ------
    ImageError
        Empty, unreadable, not an image, or too many pixels.

    Examples
    --------
    >>> open_image(b"not an image")
    Traceback (most recent call last):
    ...
    core.image.io.ImageError: not an image file Pillow can read
    """
    limit = LIMITS.max_image_pixels if max_pixels is None else max_pixels
    src = _source(data)
    try:
        img = Image.open(src)
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too many pixels (decompression-bomb guard): {exc}") from None
    except UnidentifiedImageError:
        raise ImageError("not an image file Pillow can read") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageError(f"unreadable image header: {exc}") from None
    w, h = img.size
    if w <= 0 or h <= 0:
        raise ImageError(f"image has an empty size {w}×{h}")
    if w * h > limit:
        raise ImageError(
            f"image is {w}×{h} = {w * h / 1e6:.0f} megapixels; the limit is "
            f"{limit / 1e6:.0f} megapixels (decompression-bomb guard)"
        )
    return img


def _flatten_alpha(img: Image.Image) -> Image.Image:
    rgba = img.convert("RGBA")
    background = Image.new("RGB", rgba.size, _WHITE)
    background.paste(rgba, mask=rgba.getchannel("A"))
    return background


def _high_depth_to_l(img: Image.Image) -> Image.Image:
    # Pillow's convert("L") clips 16-bit values at 255 (a white image);
    # rescale the real range instead.
    arr = np.asarray(img)
    if arr.dtype.kind == "f":
        lo, hi = float(np.nanmin(arr)), float(np.nanmax(arr))
        scaled = (arr - lo) / (hi - lo) * 255.0 if hi > lo else np.zeros_like(arr)
        return Image.fromarray(np.nan_to_num(scaled).astype(np.uint8), "L")
    arr = arr.astype(np.int64)
    peak = int(arr.max()) if arr.size else 0
    shift = 8 if peak > 255 else 0
    if peak > 65535:
        shift = 24 if peak > 2**24 else 16
    return Image.fromarray(np.clip(arr >> shift, 0, 255).astype(np.uint8), "L")


def to_rgb(img: Image.Image) -> tuple[Image.Image, list[str]]:
    """Convert any Pillow mode to 8-bit RGB.

    Transparent pixels are composited on white; 16-bit and 32-bit greyscale
    are rescaled to 8 bits rather than clipped.

    Parameters
    ----------
    img : PIL.Image.Image
        A loaded image in any mode.

    Returns
    -------
    rgb : PIL.Image.Image
        The image in mode ``"RGB"``.
    notes : list of str
        What was changed, for the user (empty when nothing notable).

    Examples
    --------
    >>> from PIL import Image
    >>> rgb, notes = to_rgb(Image.new("LA", (2, 2)))
    >>> rgb.mode, notes
    ('RGB', ['transparency flattened onto white'])
    """
    notes: list[str] = []
    mode = img.mode
    if mode == "RGB":
        return img, notes
    if mode in {"RGBA", "LA", "PA", "RGBa", "La"} or (mode == "P" and "transparency" in img.info):
        notes.append("transparency flattened onto white")
        return _flatten_alpha(img), notes
    if mode in {"I", "F"} or mode.startswith("I;16"):
        notes.append(f"{mode} high-bit-depth image reduced to 8 bits")
        return _high_depth_to_l(img).convert("RGB"), notes
    if mode == "CMYK":
        notes.append("CMYK converted to RGB")
    return img.convert("RGB"), notes


def decode_image(
    data: bytes | str | Path,
    *,
    max_side: int | None = None,
    max_pixels: int | None = None,
) -> DecodedImage:
    """Decode a whole image to RGB, applying EXIF orientation.

    Every byte of pixel data is decoded, so a truncated file is caught even
    when ``max_side`` asks for a small result (JPEG draft mode scales inside
    the decoder, which makes thumbnails several times faster).

    Parameters
    ----------
    data : bytes or path
        The encoded file.
    max_side : int, optional
        If given, the result fits in ``max_side × max_side`` (aspect kept).
    max_pixels : int, optional
        Pixel cap; defaults to the configured limit.

    Returns
    -------
    DecodedImage

    Raises
    ------
    ImageError
        For any file that cannot be decoded.
    """
    img = open_image(data, max_pixels=max_pixels)
    notes: list[str] = []
    fmt = img.format or "unknown"
    try:
        n_frames = getattr(img, "n_frames", 1)
        if getattr(img, "is_animated", False) or n_frames > 1:
            notes.append(f"animated or multi-frame image ({n_frames} frames): first frame used")
        full_w, full_h = img.size
        if max_side and fmt == "JPEG":
            img.draft("RGB", (max_side, max_side))
        img.load()
    except Image.DecompressionBombError as exc:
        raise ImageError(f"too many pixels (decompression-bomb guard): {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        message = str(exc) or type(exc).__name__
        if "truncated" in message.lower():
            raise ImageError("truncated image: the file ends before its pixel data does") from None
        raise ImageError(f"corrupt image data: {message}") from None

    try:
        oriented = ImageOps.exif_transpose(img)
        if oriented is None:  # Pillow returns None only with in_place=True
            oriented = img
    except Exception:  # noqa: BLE001 - a broken EXIF block must not lose the photo
        oriented = img
        notes.append("EXIF orientation unreadable: used as stored")
    try:
        exif = img.getexif()
        orientation = exif.get(0x0112, 1)
        taken_at = exif.get_ifd(0x8769).get(0x9003) or exif.get(0x0132)
    except Exception:  # noqa: BLE001 - EXIF is optional metadata
        orientation, taken_at = 1, None
    if orientation in (5, 6, 7, 8):
        full_w, full_h = full_h, full_w
    rgb, mode_notes = to_rgb(oriented)
    notes.extend(mode_notes)
    if max_side and max(rgb.size) > max_side:
        rgb.thumbnail((max_side, max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
    taken_at = taken_at.strip("\x00 ") if isinstance(taken_at, str) else None
    return DecodedImage(rgb, full_w, full_h, fmt, notes, taken_at or None)


def load_image(data: bytes | str | Path, *, max_side: int | None = None) -> np.ndarray:
    """Decode an image to an ``(H, W, 3)`` uint8 RGB array.

    Parameters
    ----------
    data : bytes or path
        The encoded file.
    max_side : int, optional
        Shrink so that neither side exceeds this many pixels.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array in ``[0, 255]``, shape ``(H, W, 3)``.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> buf = io.BytesIO(); Image.new("L", (4, 3), 128).save(buf, "PNG")
    >>> load_image(buf.getvalue()).shape
    (3, 4, 3)
    """
    return np.asarray(decode_image(data, max_side=max_side).pixels)


def encode_jpeg(img: Image.Image | np.ndarray, quality: int = 85) -> bytes:
    """Encode an RGB image as JPEG bytes.

    Examples
    --------
    >>> import numpy as np
    >>> encode_jpeg(np.zeros((2, 2, 3), np.uint8))[:2]
    b'\\xff\\xd8'
    """
    if isinstance(img, np.ndarray):
        img = Image.fromarray(img)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality, optimize=False)
    return buf.getvalue()
