"""Faces in one photo: detect, align and describe them (the engine).

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

This module is the per-photo part only. The archive's index (results
cached per image sha256 and :data:`MODEL_VERSION`, so indexing an archive
again is instant) is :mod:`core.faces.index`; nearest-face search is
:mod:`core.faces.search`; people (clusters of faces, names, merges, splits)
are :mod:`core.faces.people`.

Nothing here sends data anywhere: models are local files and every result
stays in the local cache. MediaPipe and dlib are imported inside the
functions that need them, so importing this module is cheap.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..image.convert import as_uint8_rgb
from ..image.geometry import fit_longest_side
from ..image.io import decode_image

__all__ = [
    "MODEL_VERSION",
    "SAME_PERSON_THRESHOLD",
    "Face",
    "FaceEngine",
    "align_points",
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


def _detector_copy(image: np.ndarray) -> tuple[np.ndarray, int]:
    """A copy at most :data:`DETECT_SIDE` wide that keeps every n-th pixel, and ``n``.

    BlazeFace looks at a 128×128 resampling of whatever it is given, so a
    proper (and much slower) filtered resize buys nothing here; this only
    saves MediaPipe the work of converting a large frame. ``n`` is the factor
    back to ``image``'s pixels (the stride :func:`core.image.geometry.fit_longest_side`
    uses with ``resample="stride"``).

    Examples
    --------
    >>> small, n = _detector_copy(np.zeros((1600, 1200, 3), np.uint8))
    >>> small.shape, n
    ((800, 600, 3), 2)
    >>> _detector_copy(np.zeros((1700, 900, 3), np.uint8))[0].shape
    (567, 300, 3)
    """
    step = max(1, -(-max(image.shape[:2]) // DETECT_SIDE))
    return np.ascontiguousarray(fit_longest_side(image, DETECT_SIDE, resample="stride")), step


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
        image = as_uint8_rgb(image)
        h, w = image.shape[:2]
        min_score = self.min_score if min_score is None else min_score
        detector = self._acquire()
        try:
            small, scale = _detector_copy(image)
            candidates = [c for c in self._detect_once(detector, small, scale, 0, 0) if c[1] >= min_score]
            if self.tiles and max(h, w) >= TILE_FROM:
                th, tw = int(h * 0.6), int(w * 0.6)
                for y in (0, h - th):
                    for x in (0, w - tw):
                        tile, tscale = _detector_copy(image[y : y + th, x : x + tw])
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
        image = as_uint8_rgb(image)
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
