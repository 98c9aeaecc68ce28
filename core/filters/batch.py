"""Apply a filter pipeline to many photos and collect the results in one ZIP.

Every photo is decoded with :func:`core.image.io.load_image` (EXIF orientation
applied, any colour mode turned into RGB), run through
:meth:`core.filters.pipeline.Pipeline.render` at full resolution and encoded as PNG
or JPEG. A photo that cannot be used (broken file, a step that cannot run on
it) is listed in :attr:`BatchResult.failures` and the batch goes on.

The ZIP holds one image per photo that worked, named after its source file
(``photo.jpg`` -> ``photo.png``; ``-2``, ``-3`` ... added when names repeat),
``pipeline.json`` (the recipe, loadable on the Filters page) and, when some
photos failed, ``failures.txt``. Images are stored uncompressed in the ZIP:
PNG and JPEG are compressed already.

Nothing here imports Streamlit: ``progress(done, total, message)`` and ``cancel()``
are plain callables, so a page can drive a progress bar and a script can
pass ``None``.
"""

from __future__ import annotations

import io
import os
import re
import tempfile
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image

from ..config import cache_dir
from ..image.io import ImageError, load_image
from ..jobs import CancelCheck, Progress
from .pipeline import Pipeline

__all__ = [
    "BATCH_LIMIT", "FORMATS", "BatchResult", "encode_image", "zip_name", "apply_to_files", "scratch_zip_path",
]

#: Most photos the app processes in one batch run (full resolution is slow:
#: about 0.1-1 s a photo, and the ZIP is kept until downloaded).
BATCH_LIMIT = 100

#: Output formats: key -> (Pillow format, file extension, MIME type).
FORMATS: dict[str, tuple[str, str, str]] = {
    "png": ("PNG", ".png", "image/png"),
    "jpeg": ("JPEG", ".jpg", "image/jpeg"),
}

_MANIFEST = "pipeline.json"
_FAILURES = "failures.txt"
_UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]+')


@dataclass
class BatchResult:
    """What a batch run did.

    Attributes
    ----------
    total : int
        Number of photos asked for.
    written : list of (str, str)
        ``(source label, name in the ZIP)`` for every photo processed.
    failures : list of (str, str)
        ``(source label, reason)`` for every photo that could not be used.
    cancelled : bool
        True if ``cancel()`` stopped the run early (the ZIP holds the photos
        finished before).
    data : bytes or None
        The ZIP itself when no output was given.
    path : Path or None
        The ZIP file when a path was given.
    """

    total: int
    written: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    cancelled: bool = False
    data: bytes | None = None
    path: Path | None = None

    @property
    def done(self) -> int:
        """Photos handled so far (written or failed)."""
        return len(self.written) + len(self.failures)


def encode_image(image: np.ndarray, fmt: str = "png", quality: int = 90) -> bytes:
    """Encode a ``uint8`` image (gray, RGB or RGBA) as PNG or JPEG bytes.

    JPEG has no alpha: an RGBA image is flattened onto white first.

    Examples
    --------
    >>> encode_image(np.zeros((2, 3), np.uint8))[:4]
    b'\\x89PNG'
    >>> encode_image(np.zeros((2, 3, 3), np.uint8), "jpeg")[:2]
    b'\\xff\\xd8'
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}; got {fmt!r}")
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image; got {arr.dtype}")
    img = Image.fromarray(arr)
    buf = io.BytesIO()
    if fmt == "jpeg":
        if img.mode in ("RGBA", "LA"):
            flat = Image.new("RGB", img.size, (255, 255, 255))
            flat.paste(img.convert("RGBA"), mask=img.convert("RGBA").getchannel("A"))
            img = flat
        img.save(buf, "JPEG", quality=int(quality))
    else:
        img.save(buf, "PNG")
    return buf.getvalue()


def zip_name(label: str, ext: str, taken: set[str]) -> str:
    """A safe, unique flat file name for ``label`` with extension ``ext``.

    Folders are dropped, characters that are unsafe in file names become
    ``_``, and ``-2``, ``-3`` ... are added until the name is not in
    ``taken`` (compared case-insensitively, for Windows and macOS). The name
    is added to ``taken``.

    Examples
    --------
    >>> taken = set()
    >>> zip_name("a/photo.jpg", ".png", taken), zip_name("b/photo.jpeg", ".png", taken)
    ('photo.png', 'photo-2.png')
    >>> zip_name("../..", ".png", taken)
    'image.png'
    """
    stem = Path(str(label).replace("\\", "/")).name
    stem = stem.rsplit(".", 1)[0] if "." in stem.strip(".") else stem
    stem = _UNSAFE.sub("_", stem).strip(" .")[:120] or "image"
    name, n = f"{stem}{ext}", 1
    while name.lower() in taken or name in (_MANIFEST, _FAILURES):
        n += 1
        name = f"{stem}-{n}{ext}"
    taken.add(name.lower())
    return name


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ImageError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "not enough memory to process this photo"
    if isinstance(exc, FileNotFoundError):
        return "file not found"
    if isinstance(exc, OSError):
        return f"cannot read the file ({exc.strerror or exc})"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"processing failed ({type(exc).__name__}: {exc})"


def apply_to_files(
    pipeline: Pipeline,
    files: Sequence[str | os.PathLike[str]],
    out: str | os.PathLike[str] | BinaryIO | None = None,
    *,
    fmt: str = "png",
    quality: int = 90,
    labels: Sequence[str] | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> BatchResult:
    """Run ``pipeline`` on every photo in ``files`` and write the results to a ZIP.

    Parameters
    ----------
    pipeline : Pipeline
        What to apply (at full resolution).
    files : sequence of paths
        The photos, in order.
    out : path, binary file or None
        Where the ZIP goes. A path is written through a temporary file and
        renamed at the end, so it never holds a half-written ZIP (if the run
        is interrupted by an exception, nothing is left behind). ``None``
        returns the ZIP in :attr:`BatchResult.data`.
    fmt : {"png", "jpeg"}
        Output format.
    quality : int
        JPEG quality, 1..95.
    labels : sequence of str, optional
        Names for the photos (default: the file names), used for the names
        in the ZIP and in the failure list.
    progress : callable, optional
        ``progress(done, total, message)``, called with 0 first and after every photo.
    cancel : callable, optional
        Called before every photo; returning True stops the run.

    Returns
    -------
    BatchResult
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}; got {fmt!r}")
    if not 1 <= int(quality) <= 95:
        raise ValueError(f"JPEG quality must be within 1..95; got {quality}")
    files = list(files)
    labels = [Path(f).name for f in files] if labels is None else [str(x) for x in labels]
    if len(labels) != len(files):
        raise ValueError(f"got {len(labels)} labels for {len(files)} files")
    ext = FORMATS[fmt][1]
    result = BatchResult(total=len(files))

    target: Path | None = None
    tmp: Path | None = None
    if out is None:
        sink: BinaryIO = io.BytesIO()
    elif isinstance(out, (str, os.PathLike)):
        target = Path(out)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=target.parent)
        tmp = Path(name)
        sink = os.fdopen(fd, "wb")
    else:
        sink = out

    try:
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(_MANIFEST, pipeline.to_json(), compress_type=zipfile.ZIP_DEFLATED)
            taken: set[str] = set()
            if progress is not None:
                progress(0, result.total, f"0 of {result.total} photos")
            for path, label in zip(files, labels):
                if cancel is not None and cancel():
                    result.cancelled = True
                    break
                try:
                    encoded = encode_image(pipeline.render(load_image(path)), fmt, quality)
                except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the batch
                    result.failures.append((label, _reason(exc)))
                else:
                    name = zip_name(label, ext, taken)
                    zf.writestr(name, encoded)
                    result.written.append((label, name))
                if progress is not None:
                    progress(result.done, result.total, f"{result.done} of {result.total} photos")
            if result.failures:
                text = "".join(f"{label}: {reason}\n" for label, reason in result.failures)
                zf.writestr(_FAILURES, text, compress_type=zipfile.ZIP_DEFLATED)
        if tmp is not None:
            sink.close()
            os.replace(tmp, target)
            tmp = None
            result.path = target
        elif out is None:
            result.data = sink.getvalue()  # type: ignore[attr-defined]
    finally:
        if tmp is not None:  # interrupted: drop the partial file
            sink.close()
            tmp.unlink(missing_ok=True)
    return result


def scratch_zip_path(token: str, max_age_hours: float = 24.0) -> Path:
    """Where the app keeps one user's latest batch ZIP until it is downloaded.

    ``<cache dir>/batch/<token>.zip``; ZIPs older than ``max_age_hours`` are
    deleted on the way, so abandoned sessions do not fill the disk.
    """
    folder = cache_dir() / "batch"
    folder.mkdir(parents=True, exist_ok=True)
    cutoff = time.time() - max_age_hours * 3600
    for old in folder.glob("*.zip"):
        try:
            if old.stat().st_mtime < cutoff:
                old.unlink(missing_ok=True)
        except OSError:  # another session removed it first
            pass
    safe = re.sub(r"[^A-Za-z0-9_-]", "", token)[:64] or "batch"
    return folder / f"{safe}.zip"
