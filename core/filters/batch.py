"""Apply a filter pipeline to many photos and collect the results in one ZIP.

A long job in the :mod:`core.jobs` way: :func:`run_batch` takes a plain
:class:`BatchRequest` (what to apply, to which files, where the ZIP goes),
returns a :class:`BatchResult`, reports ``progress(done, total, message)``
after every photo and raises :class:`core.jobs.Cancelled` when ``cancel()``
says so. Nothing here imports Streamlit: the Filters page runs it through
``ui.jobs.run_job``, a script or a command line passes ``None`` or its own
callables::

    request = BatchRequest.from_catalogue(Pipeline.parse(text), archive.catalogue, "filtered.zip")
    result = run_batch(request)

Every photo is decoded with :func:`core.image.io.load_image` (EXIF orientation
applied, any colour mode turned into RGB), run through
:meth:`core.filters.pipeline.Pipeline.render` at full resolution and encoded as PNG
or JPEG. A photo that cannot be used (broken file, a step that cannot run on
it) is listed in :attr:`BatchResult.failures` and the batch goes on.

The ZIP holds one image per photo that worked, named after its source file
(``photo.jpg`` -> ``photo.png``; ``-2``, ``-3`` ... added when names repeat),
``pipeline.json`` (the recipe, loadable on the Filters page) and, when some
photos failed, ``failures.txt``. Images are stored uncompressed in the ZIP:
PNG and JPEG are compressed already. A ZIP file is written under a temporary
name and renamed when complete, so a cancelled, failed or interrupted run
leaves no partial ZIP behind.
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
from typing import Any

import numpy as np
from PIL import Image

from ..config import cache_dir
from ..image.io import ImageError, load_image
from ..jobs import CancelCheck, JobError, Progress, check_cancel, report
from .pipeline import Pipeline

__all__ = [
    "BATCH_LIMIT", "FORMATS", "BatchRequest", "BatchResult", "ZipWriteError", "run_batch", "render_file",
    "encode_image", "zip_name", "batch_zip_name", "scratch_zip_path",
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


class ZipWriteError(JobError, OSError):
    """The ZIP could not be written (disk full, no permission); nothing was left behind."""


@dataclass(frozen=True)
class BatchRequest:
    """What a batch run should do: a pipeline, the photos, where the ZIP goes.

    Building one checks it, so a bad request fails before any photo is read.

    Attributes
    ----------
    pipeline : Pipeline
        What to apply, at full resolution (see :meth:`Pipeline.parse` for
        reading one from JSON or a share link).
    files : tuple of Path
        The photos, in order (any sequence of paths is taken).
    out : Path or None
        The ZIP file to write (its folder is made if needed; an existing
        file is replaced only when the run finishes). ``None``: the ZIP comes
        back in :attr:`BatchResult.data`.
    fmt : {"png", "jpeg"}
        Output format of the images.
    quality : int
        JPEG quality, 1..95.
    labels : tuple of str
        Names of the photos in the ZIP and in the failure list; default:
        the file names.

    Examples
    --------
    >>> from core.filters.pipeline import Step
    >>> request = BatchRequest(Pipeline([Step("flip_lr")]), ["a/one.jpg", "b/two.png"], fmt="jpeg")
    >>> request.labels, request.out
    (('one.jpg', 'two.png'), None)
    >>> BatchRequest(Pipeline(), [], fmt="gif")
    Traceback (most recent call last):
    ...
    ValueError: format must be one of ['jpeg', 'png']; got 'gif'
    """

    pipeline: Pipeline
    files: Sequence[str | os.PathLike[str]]
    out: str | os.PathLike[str] | None = None
    fmt: str = "png"
    quality: int = 90
    labels: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.pipeline, Pipeline):
            raise ValueError(f"pipeline must be a Pipeline; got {type(self.pipeline).__name__}")
        if self.fmt not in FORMATS:
            raise ValueError(f"format must be one of {sorted(FORMATS)}; got {self.fmt!r}")
        if isinstance(self.quality, bool) or not 1 <= int(self.quality) <= 95:
            raise ValueError(f"JPEG quality must be within 1..95; got {self.quality}")
        files = tuple(Path(f) for f in self.files)
        labels = tuple(f.name for f in files) if self.labels is None else tuple(str(x) for x in self.labels)
        if len(labels) != len(files):
            raise ValueError(f"got {len(labels)} labels for {len(files)} files")
        object.__setattr__(self, "files", files)
        object.__setattr__(self, "labels", labels)
        object.__setattr__(self, "out", None if self.out is None else Path(self.out))
        object.__setattr__(self, "quality", int(self.quality))

    @classmethod
    def from_catalogue(cls, pipeline: Pipeline, catalogue: Any, out: str | os.PathLike[str] | None = None, *,
                       fmt: str = "png", quality: int = 90, limit: int | None = None) -> BatchRequest:
        """The request for an archive's photos: the ``path`` and ``file`` columns of its catalogue.

        Parameters
        ----------
        pipeline : Pipeline
        catalogue : pandas.DataFrame
            :attr:`core.archive.catalogue.Archive.catalogue`, in its order.
        out, fmt, quality
            As in the class.
        limit : int, optional
            Take only the first ``limit`` photos (the app takes
            :data:`BATCH_LIMIT`).
        """
        rows = catalogue if limit is None else catalogue.iloc[:limit]
        return cls(pipeline, rows["path"].astype(str).tolist(), out, fmt, quality,
                   rows["file"].astype(str).tolist())


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
    data : bytes or None
        The ZIP itself when the request had no ``out``.
    path : Path or None
        The ZIP file when the request had an ``out``.
    """

    total: int
    written: list[tuple[str, str]] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    data: bytes | None = None
    path: Path | None = None

    @property
    def done(self) -> int:
        """Photos handled so far (written or failed)."""
        return len(self.written) + len(self.failures)


def render_file(pipeline: Pipeline, source: bytes | str | os.PathLike[str], fmt: str = "png",
                quality: int = 90) -> bytes:
    """One photo through ``pipeline`` at full resolution, encoded: a download, or one file of a batch.

    Parameters
    ----------
    pipeline : Pipeline
    source : bytes or path
        The encoded photo (decoded by :func:`core.image.io.load_image`:
        EXIF orientation applied, RGB).
    fmt : {"png", "jpeg"}
    quality : int
        JPEG quality.

    Raises
    ------
    core.image.io.ImageError
        The photo cannot be decoded.
    ValueError
        A step cannot run on this photo (the message names the step).

    Examples
    --------
    >>> from core.filters.pipeline import Step
    >>> png = encode_image(np.zeros((2, 3, 3), np.uint8))
    >>> render_file(Pipeline([Step("grayscale")]), png)[:4]
    b'\\x89PNG'
    """
    return encode_image(pipeline.render(load_image(source)), fmt, quality)


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


def run_batch(request: BatchRequest, *, progress: Progress | None = None,
              cancel: CancelCheck | None = None) -> BatchResult:
    """Run the request's pipeline on every photo and write the results to one ZIP.

    Parameters
    ----------
    request : BatchRequest
        The pipeline, the photos and where the ZIP goes.
    progress : callable, optional
        ``progress(done, total, message)``, called with 0 first and after
        every photo.
    cancel : callable, optional
        Asked before every photo; when it returns True the run stops.

    Returns
    -------
    BatchResult

    Raises
    ------
    core.jobs.Cancelled
        ``cancel()`` returned True. No ZIP is left behind: the temporary
        file is deleted (and ``out``, if it existed, is untouched).
    ZipWriteError
        The ZIP could not be written (nothing is left behind either).
        Photos that cannot be used are not errors: they are listed in
        :attr:`BatchResult.failures`.
    """
    result = BatchResult(total=len(request.files))
    ext = FORMATS[request.fmt][1]
    target = request.out
    tmp: Path | None = None
    sink: Any = io.BytesIO()
    try:
        if target is not None:
            target.parent.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".zip", dir=target.parent)
            tmp = Path(name)
            sink = os.fdopen(fd, "wb")
        with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as zf:
            zf.writestr(_MANIFEST, request.pipeline.to_json(), compress_type=zipfile.ZIP_DEFLATED)
            taken: set[str] = set()
            report(progress, 0, result.total, f"0 of {result.total} photos")
            for path, label in zip(request.files, request.labels):
                check_cancel(cancel)
                try:
                    encoded = render_file(request.pipeline, path, request.fmt, request.quality)
                except Exception as exc:  # noqa: BLE001 - one bad photo must not stop the batch
                    result.failures.append((label, _reason(exc)))
                else:
                    name = zip_name(label, ext, taken)
                    zf.writestr(name, encoded)
                    result.written.append((label, name))
                report(progress, result.done, result.total, f"{result.done} of {result.total} photos")
            if result.failures:
                text = "".join(f"{label}: {reason}\n" for label, reason in result.failures)
                zf.writestr(_FAILURES, text, compress_type=zipfile.ZIP_DEFLATED)
        if tmp is not None:
            sink.close()
            os.replace(tmp, target)
            tmp = None
            result.path = target
        else:
            result.data = sink.getvalue()
    except OSError as exc:
        raise ZipWriteError(f"The ZIP could not be written: {exc.strerror or exc}.") from exc
    finally:
        if tmp is not None:  # cancelled, failed or interrupted: drop the partial file
            sink.close()
            tmp.unlink(missing_ok=True)
    return result


def batch_zip_name(archive_name: str) -> str:
    """The file name offered for a batch's ZIP: ``feedlens-<archive>-filtered.zip``.

    Examples
    --------
    >>> batch_zip_name("My photos (2024)")
    'feedlens-My-photos-2024-filtered.zip'
    >>> batch_zip_name("../..")
    'feedlens-archive-filtered.zip'
    """
    stem = re.sub(r"[^\w.-]+", "-", archive_name).strip("-.") or "archive"
    return f"feedlens-{stem}-filtered.zip"


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
