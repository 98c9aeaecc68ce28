"""Faces: detect, align, embed and search the faces in an archive.

The pipeline, per photo:

1. **Detect** with MediaPipe's BlazeFace short-range model (Tasks API): one
   pass over a downscaled copy of the whole photo, plus, for photos of 480 px
   and more, a pass over four overlapping tiles (60 % of each side), so that
   the smaller faces of a group photo are found too; overlapping boxes are
   merged. Boxes and the six keypoints (eyes, nose tip, mouth, ears) are mapped
   back to the photo. Small photos (tight face crops) are padded first, since
   BlazeFace needs some margin around a face.
2. **Align**: a similarity transform (``skimage.transform``) from the eye,
   nose and mouth keypoints to a canonical template gives the five points of
   dlib's 5-point convention, from which ``dlib.get_face_chip`` cuts dlib's
   canonical 150×150 chip. (Running dlib's 5-point shape predictor inside the
   MediaPipe box is the alternative, ``landmarks="dlib5"``; bench/faces_quality.py
   measures both.)
3. **Embed** with dlib's ResNet face descriptor (128-d, 99.38 % on LFW), run
   by :mod:`core.faces.dlib_net`. Two descriptors less than
   :data:`SAME_PERSON_THRESHOLD` (0.6, dlib's own threshold) apart are the same
   person.

Results are cached per image sha256 and :data:`MODEL_VERSION`, so indexing an
archive again is instant. Search is an exact nearest-neighbour search over
all stored descriptors (:class:`FaceSearcher`, brute force on BLAS: a few
milliseconds per query at 100,000 faces). People (clusters of faces, names,
merges, splits) live in :mod:`core.faces.people`.

Nothing here sends data anywhere: models are local files and every result
stays in the local cache. MediaPipe and dlib are imported inside the
functions that need them, so importing this module is cheap.
"""

from __future__ import annotations

import atexit
import io
import queue
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..cache import DiskCache, default_cache
from ..image.io import ImageError, decode_image
from ..jobs import CancelCheck, Cancelled, Progress

__all__ = [
    "MODEL_VERSION",
    "SAME_PERSON_THRESHOLD",
    "Face",
    "FaceEngine",
    "FaceSearcher",
    "FaceIndex",
    "align_points",
    "index_status",
    "build_face_index",
    "load_face_index",
    "delete_face_index",
    "face_chip",
    "draw_faces",
]

#: Part of every cache key: bump it when detection, alignment or embedding change.
MODEL_VERSION = "faces-v1"
#: dlib's threshold: descriptors closer than this are the same person.
SAME_PERSON_THRESHOLD = 0.6
#: Photos are decoded to fit in this many pixels before detection.
WORK_SIDE = 1600
#: Detection runs on a copy no larger than this (BlazeFace itself sees 128×128).
DETECT_SIDE = 800
#: Photos from this size on also get the tiled pass (2×2 tiles of 60 % of each side).
TILE_FROM = 480
#: Photos smaller than this are padded before detection (tight face crops).
PAD_BELOW = 256
#: Faces narrower than this (pixels of the decoded photo) are found but not recognised.
MIN_FACE_PX = 32
CHIP_SIZE = 150
CHIP_PADDING = 0.25
EMBEDDING_DIM = 128

#: dlib's 5-point template (outer/inner corner of the image-right eye, of the
#: image-left eye, base of the nose) in unit chip coordinates, from dlib's
#: ``get_face_chip_details``.
DLIB_TEMPLATE_5 = np.array([
    [0.8595674595992, 0.2134981538014],
    [0.6460604764104, 0.2289674387677],
    [0.1205750620789, 0.2137274526848],
    [0.3340850613712, 0.2290642403242],
    [0.4901123135679, 0.6277975316475],
])
#: Where BlazeFace's image-left eye, image-right eye, nose tip and mouth centre
#: land in the same unit chip: the median over 78 faces of real Instagram photos
#: (shared data instaloader-top20-celebs, not the evaluation sets) aligned by
#: dlib's 5-point shape predictor.
BLAZE_TEMPLATE_4 = np.array([
    [0.2422, 0.2380],
    [0.7609, 0.2330],
    [0.4851, 0.5592],
    [0.4944, 0.8121],
])

# One row per face in the cache: box (4), score, 6 keypoints (12), descriptor (128).
# Box and keypoints are stored as fractions of the photo's width and height.
_ROW = 4 + 1 + 12 + EMBEDDING_DIM
_KIND = f"faces/{MODEL_VERSION}"
_CHIPS = f"faces/{MODEL_VERSION}-chips"
_ERRORS = f"faces/{MODEL_VERSION}-errors"



# --------------------------------------------------------------------------- detection


def _mediapipe_vision():
    """``(mediapipe, BaseOptions, vision)`` without TensorFlow (see core.mediapipe_tasks)."""
    from ..mediapipe_tasks import import_vision

    mp, vision, base_options = import_vision()
    return mp, base_options, vision


@dataclass
class Face:
    """One face found in a photo.

    Attributes
    ----------
    box : numpy.ndarray
        ``(x, y, width, height)`` in pixels of the analysed photo.
    score : float
        Detector confidence in ``[0, 1]``.
    keypoints : numpy.ndarray
        ``(6, 2)`` pixel positions: image-left eye, image-right eye, nose tip,
        mouth centre, image-left ear, image-right ear.
    embedding : numpy.ndarray or None
        The 128-d descriptor; ``None`` for a face too small to recognise.
    chip : numpy.ndarray or None
        The aligned 150×150 RGB chip the descriptor was computed from.
    """

    box: np.ndarray
    score: float
    keypoints: np.ndarray
    embedding: np.ndarray | None = None
    chip: np.ndarray | None = field(default=None, repr=False)

    @property
    def recognisable(self) -> bool:
        """Whether the face was large enough to get a descriptor."""
        return self.embedding is not None


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over the smaller box's area (a face seen whole and in a tile)."""
    x1, y1 = max(a[0], b[0]), max(a[1], b[1])
    x2, y2 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0.0, x2 - x1) * max(0.0, y2 - y1)
    smaller = min(a[2] * a[3], b[2] * b[3])
    return float(inter / smaller) if smaller > 0 else 0.0


def _shrink(image: np.ndarray, max_side: int) -> tuple[np.ndarray, int]:
    """A copy at most about ``max_side`` wide, by keeping every n-th pixel.

    BlazeFace looks at a 128×128 resampling of whatever it is given, so a
    proper (and much slower) filtered resize buys nothing here; this only
    saves MediaPipe the work of converting a large frame. Returns the copy
    and ``n``, the factor back to ``image``'s pixels.

    Examples
    --------
    >>> small, n = _shrink(np.zeros((1600, 1200, 3), np.uint8), 800)
    >>> small.shape, n
    ((800, 600, 3), 2)
    """
    step = max(1, -(-max(image.shape[:2]) // max_side))
    return np.ascontiguousarray(image[::step, ::step]), step


def align_points(keypoints: np.ndarray) -> np.ndarray:
    """dlib-style 5 points from BlazeFace's eye, nose and mouth keypoints.

    A similarity transform (rotation, uniform scale, shift) is fitted from
    :data:`BLAZE_TEMPLATE_4` to the four keypoints; it maps dlib's 5-point
    template into the photo.

    Parameters
    ----------
    keypoints : numpy.ndarray
        ``(>=4, 2)`` pixel positions in BlazeFace's order.

    Returns
    -------
    numpy.ndarray
        ``(5, 2)`` pixel positions in dlib's 5-point order.

    Examples
    --------
    >>> pts = align_points(BLAZE_TEMPLATE_4 * 100 + 10)
    >>> np.allclose(pts, DLIB_TEMPLATE_5 * 100 + 10)
    True
    """
    from skimage.transform import SimilarityTransform

    transform = SimilarityTransform.from_estimate(BLAZE_TEMPLATE_4, np.asarray(keypoints, float)[:4])
    if not transform:  # degenerate keypoints (all on one spot)
        raise ValueError("keypoints do not define a face")
    return transform(DLIB_TEMPLATE_5)


class FaceEngine:
    """Finds faces in photos and describes them; shareable between threads.

    Parameters
    ----------
    detector_model : path, optional
        BlazeFace ``.tflite`` file; defaults to
        ``core.modelfiles.model_path("blaze_face_short_range.tflite")``.
    min_score : float
        Detector confidence needed on the whole-photo pass.
    tile_min_score : float
        Confidence needed for a face found only in a tile (tiles see more
        false alarms: hands, patterns).
    tiles : bool
        Run the tiled pass for photos of :data:`TILE_FROM` px and more.
    landmarks : {"blazeface", "dlib5"}
        How the five alignment points are found: from BlazeFace's keypoints
        (default, measured best) or with dlib's 5-point shape predictor run in
        the BlazeFace box.
    min_face_px : int
        Narrower faces are reported but get no descriptor.

    Raises
    ------
    core.jobs.ModelUnavailableError
        If the detector model file cannot be found.
    core.faces.dlib_net.DlibModelError
        If dlib's descriptor weights cannot be found.

    Examples
    --------
    >>> from skimage import data
    >>> engine = FaceEngine()  # doctest: +SKIP
    >>> [f.recognisable for f in engine.analyze(data.astronaut())]  # doctest: +SKIP
    [True]
    """

    def __init__(
        self,
        detector_model: str | Path | None = None,
        *,
        min_score: float = 0.6,
        tile_min_score: float = 0.75,
        tiles: bool = True,
        landmarks: str = "blazeface",
        min_face_px: int = MIN_FACE_PX,
    ) -> None:
        from ..modelfiles import model_path
        from .dlib_net import DlibResNet

        if landmarks not in ("blazeface", "dlib5"):
            raise ValueError(f"landmarks must be 'blazeface' or 'dlib5', not {landmarks!r}")
        self.detector_model = Path(detector_model) if detector_model else model_path("blaze_face_short_range.tflite")
        self.min_score = min_score
        self.tile_min_score = tile_min_score
        self.tiles = tiles
        self.landmarks = landmarks
        self.min_face_px = min_face_px
        self.net = DlibResNet()
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._predictor = None
        # Fail now, with a clear message, rather than in the first worker.
        self._release(self._acquire())
        _ENGINES.add(self)

    def close(self) -> None:
        """Release the MediaPipe detectors (the engine stays usable)."""
        while True:
            try:
                detector = self._idle.get_nowait()
            except queue.Empty:
                return
            try:
                detector.close()
            except Exception:  # noqa: BLE001 - closing must never fail loudly
                pass

    # MediaPipe task objects are not thread-safe: each call borrows its own.
    def _acquire(self):
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            _, BaseOptions, vision = _mediapipe_vision()
            options = vision.FaceDetectorOptions(
                base_options=BaseOptions(model_asset_path=str(self.detector_model)),
                min_detection_confidence=min(0.5, self.min_score, self.tile_min_score),
            )
            return vision.FaceDetector.create_from_options(options)

    def _release(self, detector) -> None:
        self._idle.put(detector)

    def _shape_predictor(self):
        with self._lock:
            if self._predictor is None:
                import dlib

                from .dlib_net import dlib_model_file

                self._predictor = dlib.shape_predictor(str(dlib_model_file("shape_predictor_5_face_landmarks.dat")))
            return self._predictor

    def _detect_once(self, detector, image: np.ndarray, scale: float, dx: float, dy: float):
        mp, _, _ = _mediapipe_vision()
        h, w = image.shape[:2]
        frame = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        found = []
        for det in detector.detect(frame).detections:
            b = det.bounding_box
            box = np.array([b.origin_x * scale + dx, b.origin_y * scale + dy, b.width * scale, b.height * scale])
            kps = np.array([[k.x * w * scale + dx, k.y * h * scale + dy] for k in det.keypoints])
            score = float(det.categories[0].score) if det.categories else 0.0
            found.append((box, score, kps))
        return found

    def detect(self, image: np.ndarray, *, min_score: float | None = None) -> list[Face]:
        """Find the faces in an RGB photo (no descriptors).

        Parameters
        ----------
        image : numpy.ndarray
            ``(H, W, 3)`` uint8 RGB.
        min_score : float, optional
            Confidence needed on the whole-photo pass (default: the engine's).

        Returns
        -------
        list of Face
            Largest first, with ``embedding`` and ``chip`` left empty.
        """
        image = _as_rgb(image)
        h, w = image.shape[:2]
        min_score = self.min_score if min_score is None else min_score
        detector = self._acquire()
        try:
            small, scale = _shrink(image, DETECT_SIDE)
            candidates = [c for c in self._detect_once(detector, small, scale, 0, 0) if c[1] >= min_score]
            if self.tiles and max(h, w) >= TILE_FROM:
                th, tw = int(h * 0.6), int(w * 0.6)
                for y in (0, h - th):
                    for x in (0, w - tw):
                        tile, tscale = _shrink(image[y : y + th, x : x + tw], DETECT_SIDE)
                        candidates += [c for c in self._detect_once(detector, tile, tscale, x, y)
                                       if c[1] >= self.tile_min_score]
        finally:
            self._release(detector)
        candidates.sort(key=lambda c: -c[1])
        kept: list[tuple] = []
        for cand in candidates:
            if all(_overlap(cand[0], k[0]) < 0.3 for k in kept):
                kept.append(cand)
        kept.sort(key=lambda c: -(c[0][2] * c[0][3]))
        return [Face(box=box, score=score, keypoints=kps) for box, score, kps in kept]

    def five_points(self, image: np.ndarray, face: Face) -> np.ndarray:
        """The five dlib-convention alignment points of a detected face."""
        if self.landmarks == "dlib5":
            import dlib

            x, y, bw, bh = face.box
            rect = dlib.rectangle(int(x), int(y), int(x + bw), int(y + bh))
            shape = self._shape_predictor()(image, rect)
            return np.array([[shape.part(i).x, shape.part(i).y] for i in range(5)], float)
        return align_points(face.keypoints)

    def chip(self, image: np.ndarray, face: Face) -> np.ndarray:
        """dlib's aligned 150×150 chip of a detected face."""
        import dlib

        points = self.five_points(image, face)
        rect = dlib.rectangle(*(int(v) for v in (points[:, 0].min(), points[:, 1].min(),
                                                  points[:, 0].max(), points[:, 1].max())))
        shape = dlib.full_object_detection(rect, [dlib.point(int(round(px)), int(round(py))) for px, py in points])
        return dlib.get_face_chip(np.ascontiguousarray(image), shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def analyze(self, image: np.ndarray, *, embed: bool = True) -> list[Face]:
        """Detect, align and describe every face in a photo.

        Parameters
        ----------
        image : numpy.ndarray
            ``(H, W, 3)`` uint8 RGB (greyscale ``(H, W)`` is accepted).
        embed : bool
            Compute descriptors (otherwise only boxes, keypoints and chips).

        Returns
        -------
        list of Face
            Largest face first. Faces narrower than ``min_face_px`` have no
            descriptor.
        """
        image = _as_rgb(image)
        h, w = image.shape[:2]
        pad, min_score = 0, None
        if max(h, w) < PAD_BELOW:
            # Most likely a tight face crop: give the detector some margin, and
            # accept its default confidence (0.5): a crop is meant to show a face.
            pad, min_score = max(h, w) // 2, min(0.5, self.min_score)
            image = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge")
        faces = self.detect(image, min_score=min_score)
        if pad and not faces:  # some crops are only found without the margin
            image, pad = np.ascontiguousarray(image[pad:-pad, pad:-pad]), 0
            faces = self.detect(image, min_score=min_score)
        for face in faces:
            face.chip = self.chip(image, face)
            if pad:
                face.box = face.box - np.array([pad, pad, 0, 0])
                face.keypoints = face.keypoints - pad
        if embed:
            big = [f for f in faces if min(f.box[2], f.box[3]) >= self.min_face_px]
            if big:
                vectors = self.net.compute(np.stack([f.chip for f in big]))
                for face, vector in zip(big, vectors):
                    face.embedding = vector
        return faces

    def analyze_file(self, data: bytes | str | Path, *, max_side: int = WORK_SIDE) -> tuple[list[Face], tuple[int, int]]:
        """Decode a photo (EXIF orientation applied) and analyse it.

        Returns
        -------
        faces : list of Face
            In pixels of the decoded copy.
        size : (int, int)
            ``(width, height)`` of the decoded copy.

        Raises
        ------
        core.image.io.ImageError
            If the photo cannot be decoded.
        """
        image = np.asarray(decode_image(data, max_side=max_side).pixels)
        return self.analyze(image), (image.shape[1], image.shape[0])


_ENGINES: "weakref.WeakSet[FaceEngine]" = weakref.WeakSet()


@atexit.register
def _close_engines() -> None:
    # MediaPipe's own finaliser fails noisily once the interpreter is shutting down.
    for engine in list(_ENGINES):
        engine.close()


def _as_rgb(image: np.ndarray) -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    return np.ascontiguousarray(image[..., :3])


# --------------------------------------------------------------------------- search


class FaceSearcher:
    """Exact nearest neighbours of face descriptors (Euclidean), on BLAS.

    The API follows ``sklearn.neighbors.NearestNeighbors``. A query against
    100,000 stored faces is one matrix-vector product plus a partial sort:
    a few milliseconds, so no approximate index is needed at archive scale.

    Examples
    --------
    >>> searcher = FaceSearcher().fit(np.eye(3, dtype=np.float32))
    >>> dist, idx = searcher.kneighbors(np.array([[0.9, 0.1, 0.0]]), n_neighbors=2)
    >>> idx.tolist(), [round(float(d), 3) for d in dist[0]]
    ([[0, 1]], [0.141, 1.273])
    """

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, X: np.ndarray) -> "FaceSearcher":
        """Store the descriptors ``X`` (``(N, D)``)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError("X must be a 2-D array")
        self.X_ = X
        self.sq_norms_ = np.einsum("ij,ij->i", X, X)
        return self

    def kneighbors(self, X: np.ndarray, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the nearest stored descriptors.

        Returns
        -------
        distances, indices : numpy.ndarray
            ``(n_queries, k)``, nearest first; ``k`` is at most the number stored.
        """
        Q = np.atleast_2d(np.asarray(X, dtype=np.float32))
        k = min(n_neighbors or self.n_neighbors, len(self.X_))
        if k == 0:
            return np.zeros((len(Q), 0), np.float32), np.zeros((len(Q), 0), np.int64)
        dist_out = np.empty((len(Q), k), np.float32)
        idx_out = np.empty((len(Q), k), np.int64)
        chunk = max(1, 2**24 // max(1, len(self.X_)))
        for start in range(0, len(Q), chunk):
            q = Q[start : start + chunk]
            d2 = self.sq_norms_[None, :] - 2.0 * (q @ self.X_.T)
            d2 += np.einsum("ij,ij->i", q, q)[:, None]
            if k < d2.shape[1]:
                part = np.argpartition(d2, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(d2.shape[1]), d2.shape)
            vals = np.take_along_axis(d2, part, axis=1)
            order = np.argsort(vals, axis=1, kind="stable")
            idx_out[start : start + len(q)] = np.take_along_axis(part, order, axis=1)
            dist_out[start : start + len(q)] = np.sqrt(np.maximum(np.take_along_axis(vals, order, axis=1), 0))
        return dist_out, idx_out


# --------------------------------------------------------------------------- the archive's index


@dataclass
class FaceIndex:
    """Every face found in an archive's photos.

    Attributes
    ----------
    faces : pandas.DataFrame
        One row per face: ``face_key`` (``"<sha256>-<n>"``), ``sha256``,
        ``face_no``, ``x``, ``y``, ``w``, ``h`` (fractions of the photo's
        width/height), ``score``, ``recognisable``, and the catalogue's
        ``post_id``, ``file``, ``path`` of the first post using the photo.
    embeddings : numpy.ndarray
        ``(n_faces, 128)`` float32; rows of unrecognisable faces are NaN.
    n_photos : int
        Distinct photos (sha256) in the archive.
    n_done : int
        Photos indexed so far (with or without faces, failures included).
    failed : dict
        ``sha256 -> message`` for photos that could not be read.
    """

    faces: pd.DataFrame
    embeddings: np.ndarray
    n_photos: int
    n_done: int
    failed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ok = self.faces["recognisable"].to_numpy(bool) if len(self.faces) else np.zeros(0, bool)
        self._rows = np.flatnonzero(ok)
        self._searcher = FaceSearcher().fit(self.embeddings[self._rows].reshape(-1, EMBEDDING_DIM))

    @property
    def complete(self) -> bool:
        """Whether every photo of the archive has been indexed."""
        return self.n_done >= self.n_photos

    @property
    def recognisable(self) -> pd.DataFrame:
        """The faces that have a descriptor."""
        return self.faces.iloc[self._rows]

    @property
    def photos_without_faces(self) -> int:
        """Indexed, readable photos in which no face was found."""
        with_faces = self.faces["sha256"].nunique() if len(self.faces) else 0
        return self.n_done - len(self.failed) - with_faces

    def search(self, embedding: np.ndarray, k: int = 5) -> pd.DataFrame:
        """The ``k`` stored faces nearest to one descriptor.

        Returns
        -------
        pandas.DataFrame
            The matching rows of :attr:`faces`, nearest first, with
            ``distance`` and ``same_person`` (distance below
            :data:`SAME_PERSON_THRESHOLD`) added.
        """
        dist, idx = self._searcher.kneighbors(np.asarray(embedding, np.float32)[None], k)
        rows = self.faces.iloc[self._rows[idx[0]]].copy()
        rows["distance"] = dist[0].astype(float)
        rows["same_person"] = rows["distance"] < SAME_PERSON_THRESHOLD
        return rows.reset_index(drop=True)


def _photos(catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct photo (sha256): its first post, file and path."""
    if catalogue is None or len(catalogue) == 0:
        return pd.DataFrame(columns=["sha256", "post_id", "file", "path"])
    cols = catalogue[["sha256", "post_id", "file", "path"]].dropna(subset=["sha256"])
    return cols.drop_duplicates("sha256").reset_index(drop=True)


def _rows_of(faces: Sequence[Face], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    rows = np.full((len(faces), _ROW), np.nan, np.float32)
    for i, f in enumerate(faces):
        rows[i, 0:4] = f.box / np.array([w, h, w, h])
        rows[i, 4] = f.score
        rows[i, 5:17] = (f.keypoints / np.array([w, h])).ravel()
        if f.embedding is not None:
            rows[i, 17:] = f.embedding
    return rows


def _chip_strip(faces: Sequence[Face]) -> bytes:
    from PIL import Image

    strip = np.concatenate([f.chip for f in faces], axis=1)
    buf = io.BytesIO()
    Image.fromarray(strip).save(buf, "JPEG", quality=88)
    return buf.getvalue()


def _index_photo(engine: FaceEngine, sha: str, path: str, cache: DiskCache) -> None:
    try:
        faces, size = engine.analyze_file(path)
    except ImageError as exc:
        cache.put(_ERRORS, sha, str(exc).encode(), ".txt")
        return
    except OSError as exc:
        cache.put(_ERRORS, sha, f"cannot read the file: {exc}".encode(), ".txt")
        return
    if faces:
        cache.put(_CHIPS, sha, _chip_strip(faces), ".jpg")
    cache.put_array(_KIND, sha, _rows_of(faces, size))  # written last: marks the photo done


def _is_done(cache: DiskCache, sha: str) -> bool:
    return cache.path(_KIND, sha, ".npy").is_file() or cache.path(_ERRORS, sha, ".txt").is_file()


def index_status(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> tuple[int, int]:
    """``(photos indexed, photos in the archive)``, from the cache alone.

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"sha256": ["ab", "ab", "cd"], "post_id": ["1", "2", "3"],
    ...                     "file": ["a", "a", "c"], "path": ["/a", "/a", "/c"]})
    >>> index_status(cat, DiskCache(tempfile.mkdtemp()))
    (0, 2)
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    return sum(_is_done(cache, sha) for sha in photos["sha256"]), len(photos)


def _blas_threads(limit: int | None):
    """Limit BLAS threads (threadpoolctl ships with scikit-learn); a no-op without it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


def build_face_index(
    catalogue: pd.DataFrame,
    engine: FaceEngine,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    workers: int = 2,
) -> FaceIndex:
    """Index every photo of a catalogue that is not cached yet.

    Photos are processed in ``workers`` threads (decoding, MediaPipe and BLAS
    release the GIL). Each finished photo is cached at once, so a cancelled
    or interrupted build keeps its work.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive's catalogue (``sha256``, ``post_id``, ``file``, ``path``).
    engine : FaceEngine
    cache : DiskCache, optional
    progress : callable, optional
        ``progress(done, total, message)``, called in the calling thread.
    cancel : callable, optional
        Polled between photos; ``True`` stops the build.
    workers : int

    Raises
    ------
    Cancelled
        When ``cancel()`` returned True.
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    todo = [(r.sha256, r.path) for r in photos.itertuples() if not _is_done(cache, r.sha256)]
    total, done = len(photos), len(photos) - len(todo)
    if progress is not None:
        progress(done, total, f"{done} of {total} photos indexed")
    if todo:
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            # One BLAS thread per worker: the workers already fill the cores.
            with _blas_threads(1 if workers > 1 else None):
                futures = [pool.submit(_index_photo, engine, sha, str(path), cache) for sha, path in todo]
                for future in futures:
                    if cancel is not None and cancel():
                        raise Cancelled("face indexing cancelled")
                    future.result()
                    done += 1
                    if progress is not None:
                        progress(done, total, f"{done} of {total} photos indexed")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
    return load_face_index(catalogue, cache)


def load_face_index(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> FaceIndex:
    """The face index of a catalogue as far as it is cached (no model needed).

    Photos not indexed yet are simply missing; see :attr:`FaceIndex.complete`.
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    frames, vectors, failed, done = [], [], {}, 0
    for r in photos.itertuples():
        rows = cache.get_array(_KIND, r.sha256)
        if rows is None:
            message = cache.get(_ERRORS, r.sha256, ".txt")
            if message is not None:
                failed[r.sha256] = message.decode("utf-8", "replace")
                done += 1
            continue
        done += 1
        if rows.ndim != 2 or rows.shape[1] != _ROW or len(rows) == 0:
            continue
        frames.append(pd.DataFrame({
            "face_key": [f"{r.sha256}-{i}" for i in range(len(rows))],
            "sha256": r.sha256,
            "face_no": np.arange(len(rows)),
            "x": rows[:, 0], "y": rows[:, 1], "w": rows[:, 2], "h": rows[:, 3],
            "score": rows[:, 4],
            "recognisable": ~np.isnan(rows[:, 17]),
            "post_id": r.post_id, "file": r.file, "path": r.path,
        }))
        vectors.append(rows[:, 17:])
    columns = ["face_key", "sha256", "face_no", "x", "y", "w", "h", "score", "recognisable", "post_id", "file", "path"]
    faces = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    embeddings = np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, EMBEDDING_DIM), np.float32)
    return FaceIndex(faces=faces, embeddings=embeddings, n_photos=len(photos), n_done=done, failed=failed)


def delete_face_index(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> int:
    """Delete the cached faces, chips and failures of a catalogue's photos.

    Returns
    -------
    int
        How many cache files were removed.
    """
    cache = cache or default_cache()
    removed = 0
    for sha in _photos(catalogue)["sha256"]:
        for kind, suffix in ((_KIND, ".npy"), (_CHIPS, ".jpg"), (_ERRORS, ".txt")):
            path = cache.path(kind, sha, suffix)
            if path.is_file():
                path.unlink()
                removed += 1
    return removed


def face_chip(sha256: str, face_no: int, cache: DiskCache | None = None) -> np.ndarray | None:
    """The aligned 150×150 chip of a stored face (``None`` if not cached)."""
    cache = cache or default_cache()
    data = cache.get(_CHIPS, sha256, ".jpg")
    if data is None:
        return None
    from PIL import Image

    try:
        strip = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except OSError:
        return None
    start = int(face_no) * CHIP_SIZE
    if strip.shape[1] < start + CHIP_SIZE:
        return None
    return np.ascontiguousarray(strip[:, start : start + CHIP_SIZE])


def draw_faces(
    image: np.ndarray,
    boxes: Iterable[Sequence[float]],
    *,
    highlight: Iterable[bool] | None = None,
    labels: Iterable[str] | None = None,
) -> np.ndarray:
    """Draw face boxes (fractions of width/height) on a copy of an RGB image.

    Highlighted boxes are thick and orange, the others thin and white.

    Examples
    --------
    >>> out = draw_faces(np.zeros((40, 40, 3), np.uint8), [(0.25, 0.25, 0.5, 0.5)])
    >>> out.shape, int(out[10, 20].sum()) > 0
    ((40, 40, 3), True)
    """
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.fromarray(np.ascontiguousarray(image))
    draw = ImageDraw.Draw(canvas)
    w, h = canvas.size
    boxes = list(boxes)
    flags = list(highlight) if highlight is not None else [True] * len(boxes)
    names = list(labels) if labels is not None else [""] * len(boxes)
    width = max(2, round(max(w, h) / 250))
    font = ImageFont.load_default(size=max(12, round(max(w, h) / 28)))
    for (x, y, bw, bh), on, name in zip(boxes, flags, names):
        colour = (255, 140, 0) if on else (255, 255, 255)
        rect = [x * w, y * h, (x + bw) * w, (y + bh) * h]
        draw.rectangle(rect, outline=colour, width=width if on else 1)
        if name:  # a tag on the box's top-left corner
            left, top, right, bottom = draw.textbbox((rect[0], rect[1]), name, font=font)
            pad = max(2, width)
            draw.rectangle([left - pad, top - pad, right + pad, bottom + pad], fill=colour)
            draw.text((rect[0], rect[1]), name, fill=(0, 0, 0), font=font)
    return np.asarray(canvas)
