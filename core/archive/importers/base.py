"""What every importer returns, and the helpers they share."""

from __future__ import annotations

import json
import lzma
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from ...config import LIMITS
from ...jobs import JobError
from ...problems import ProblemLog

__all__ = [
    "ImageRecord",
    "ImportResult",
    "IMAGE_EXTENSIONS",
    "VIDEO_EXTENSIONS",
    "MetadataError",
    "read_json",
    "parse_count",
    "parse_timestamp",
    "timestamp_from_filename",
    "rel",
    "parse_coordinates",
    "exif_position",
]

#: Every extension Pillow can open, plus the usual spellings.
IMAGE_EXTENSIONS = frozenset(
    {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}
    | {".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff"}
)
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".m4v", ".avi", ".webm", ".mkv", ".3gp"})

_INSTALOADER_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})_(\d{2})-(\d{2})-(\d{2})(?:_UTC)?")


class MetadataError(JobError, ValueError):
    """A metadata file (JSON, CSV) that cannot be read; the message says why."""


@dataclass
class ImageRecord:
    """One image of one post, as an importer found it (before decoding).

    ``file`` is the POSIX path relative to the archive root. Counts are
    ``None`` when unknown (hidden by Instagram, or not in the export).
    """

    file: str
    post_id: str
    source_format: str
    position: int = 1
    account: str | None = None
    likes: int | None = None
    comments: int | None = None
    caption: str = ""
    accessibility_caption: str | None = None
    timestamp: pd.Timestamp | None = None
    media_type: str = "image"  # "image", or "video thumbnail"
    #: Where the photo was taken (WGS84 degrees), when the source says so.
    latitude: float | None = None
    longitude: float | None = None
    #: The post is archived on Instagram (hidden from the profile, still the user's).
    archived: bool = False
    extras: dict[str, Any] = field(default_factory=dict)


@dataclass
class ImportResult:
    """Records found by one importer, the files it used, and what went wrong."""

    records: list[ImageRecord] = field(default_factory=list)
    claimed: set[Path] = field(default_factory=set)
    problems: ProblemLog = field(default_factory=ProblemLog)
    videos_skipped: int = 0
    #: Posts described by metadata (some may have no image on disk).
    posts_described: int = 0


def rel(path: Path, root: Path) -> str:
    """POSIX path of ``path`` relative to ``root`` (how the user knows it)."""
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return path.as_posix()


def read_json(path: Path, *, max_bytes: int = LIMITS.max_json_bytes) -> Any:
    """Read a ``.json`` or ``.json.xz`` file with a size cap.

    Raises
    ------
    MetadataError
        Too large, bad compression, or not valid JSON.
    """
    try:
        if path.name.endswith(".xz"):
            decomp = lzma.LZMADecompressor()
            raw = decomp.decompress(path.read_bytes(), max_length=max_bytes + 1)
            if len(raw) > max_bytes:
                raise MetadataError(f"decompresses to more than {max_bytes // 1024**2} MB")
            if not decomp.eof:
                raise MetadataError("truncated .xz file")
        else:
            if path.stat().st_size > max_bytes:
                raise MetadataError(f"larger than {max_bytes // 1024**2} MB")
            raw = path.read_bytes()
        return json.loads(raw.decode("utf-8-sig"))
    except MetadataError:
        raise
    except lzma.LZMAError as exc:
        raise MetadataError(f"not a valid .xz file ({exc})") from None
    except UnicodeDecodeError:
        raise MetadataError("not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise MetadataError(f"broken JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except OSError as exc:
        raise MetadataError(f"cannot be read ({exc.strerror or exc})") from None


_COUNT = re.compile(r"^\s*([0-9][0-9,.\s]*)\s*([kKmM]?)\s*$")


def parse_count(value: Any) -> int | None:
    """Parse a like or comment count; ``None`` when unknown.

    Accepts ints, floats, and text such as ``"1,234"``, ``"1.2k"``, ``"3M"``.
    Instaloader's ``-1`` (hidden count), blanks and ``"--"`` mean unknown.

    Raises
    ------
    ValueError
        For text that is not a count at all (``"many"``).

    Examples
    --------
    >>> parse_count("1,234"), parse_count("1.2k"), parse_count(-1), parse_count("--")
    (1234, 1200, None, None)
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a count")
    if isinstance(value, (int, float)):
        if value < 0:
            return None
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        return int(value)
    text = str(value).strip()
    if text in {"", "--", "-", "-1", "n/a", "N/A", "NA", "null", "None"}:
        return None
    match = _COUNT.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a number")
    number, suffix = match.groups()
    number = number.replace(",", "").replace(" ", "")
    scale = {"": 1, "k": 1_000, "m": 1_000_000}[suffix.lower()]
    try:
        parsed = float(number) * scale
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    return int(round(parsed))


def parse_timestamp(value: Any) -> pd.Timestamp | None:
    """Parse Unix seconds (or ms) or an ISO-like date into a UTC timestamp.

    Naive dates are taken as UTC. Returns ``None`` for blanks.

    Raises
    ------
    ValueError
        For text that is not a date.

    Examples
    --------
    >>> parse_timestamp(1717174635)
    Timestamp('2024-05-31 16:57:15+0000', tz='UTC')
    >>> parse_timestamp("2024-05-31 18:57:15+02:00")
    Timestamp('2024-05-31 16:57:15+0000', tz='UTC')
    """
    if value is None or (isinstance(value, float) and value != value):
        return None
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if re.fullmatch(r"\d{9,13}(\.\d+)?", text):
            value = float(text)
        else:
            try:
                ts = pd.Timestamp(text)
            except (ValueError, TypeError):
                raise ValueError(f"{text!r} is not a date") from None
            if ts is pd.NaT:
                return None
            return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if isinstance(value, (int, float)):
        seconds = float(value) / 1000.0 if value > 1e11 else float(value)
        if not 0 < seconds < 4e9:
            raise ValueError(f"{value!r} is not a plausible Unix time")
        return pd.Timestamp(datetime.fromtimestamp(seconds, tz=timezone.utc))
    raise ValueError(f"{value!r} is not a date")


def timestamp_from_filename(name: str) -> pd.Timestamp | None:
    """The UTC time in an Instaloader-style name (``2024-05-31_16-57-15_UTC``).

    Examples
    --------
    >>> timestamp_from_filename("2024-05-31_16-57-15_UTC_2.jpg")
    Timestamp('2024-05-31 16:57:15+0000', tz='UTC')
    """
    match = _INSTALOADER_DATE.search(name)
    if not match:
        return None
    try:
        return pd.Timestamp(datetime(*map(int, match.groups()), tzinfo=timezone.utc))
    except ValueError:
        return None


def parse_coordinates(lat: Any, lon: Any) -> tuple[float, float] | None:
    """A (latitude, longitude) pair in degrees, or ``None`` when missing or impossible.

    ``(0, 0)`` counts as missing: apps write it when they have no fix.

    Examples
    --------
    >>> parse_coordinates("42.36", -71.06), parse_coordinates(0, 0), parse_coordinates(91, 0)
    ((42.36, -71.06), None, None)
    """
    try:
        lat_f, lon_f = float(lat), float(lon)
    except (TypeError, ValueError):
        return None
    if lat_f != lat_f or lon_f != lon_f or (lat_f == 0 and lon_f == 0):
        return None
    if not (-90 <= lat_f <= 90 and -180 <= lon_f <= 180):
        return None
    return lat_f, lon_f


def _dms(value: Any) -> float:
    degrees, minutes, seconds = (float(v) for v in value)
    return degrees + minutes / 60 + seconds / 3600


def exif_position(path: Path) -> tuple[float, float] | None:
    """The GPS position in a photo file's EXIF (``GPSLatitude``/``GPSLongitude``), or ``None``.

    Only the file's header is read (Pillow opens lazily, no pixel is
    decoded); a file Pillow cannot open gives ``None`` (the ingest reports it).

    Examples
    --------
    >>> import tempfile
    >>> from PIL.TiffImagePlugin import IFDRational as R
    >>> exif = Image.Exif(); gps = exif.get_ifd(0x8825)
    >>> gps.update({1: "N", 2: (R(42), R(21), R(3636, 100)), 3: "W", 4: (R(71), R(3), R(3204, 100))})
    >>> photo = Path(tempfile.mkdtemp()) / "gps.jpg"; Image.new("RGB", (8, 8)).save(photo, exif=exif)
    >>> [round(v, 4) for v in exif_position(photo)]
    [42.3601, -71.0589]
    """
    try:
        with Image.open(path) as img:
            gps = img.getexif().get_ifd(0x8825)
            if not gps or 2 not in gps or 4 not in gps:
                return None
            lat, lon = _dms(gps[2]), _dms(gps[4])
            if str(gps.get(1, "N")).strip("\x00 ").upper() == "S":
                lat = -lat
            if str(gps.get(3, "E")).strip("\x00 ").upper() == "W":
                lon = -lon
    except Exception:  # noqa: BLE001 - any unreadable header just means "no position"
        return None
    return parse_coordinates(lat, lon)
