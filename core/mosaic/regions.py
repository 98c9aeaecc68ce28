"""Face and person masks from MediaPipe, for weighting mosaic tiles.

The seed used PointRend for people and MediaPipe's face mesh for faces. Here
both come from MediaPipe Tasks (``mediapipe`` >= 0.10, the Tasks API):

* :func:`face_landmarks` runs ``FaceLandmarker`` (``face_landmarker.task``:
  478 landmarks per face, the 468-point mesh plus the irises);
  :func:`face_mask` fills the convex hull of each face's landmarks;
* :func:`person_probability` runs ``ImageSegmenter`` with the selfie model
  (``selfie_segmenter.tflite``), whose confidence mask is P(person);
  :func:`person_mask` thresholds it at 0.5.

:func:`region_masks` does both. The model files come from
:func:`core.modelfiles.model_path` (``FEEDLENS_MODEL_DIR`` or the cache), which
raises :class:`core.jobs.ModelUnavailableError` with a message for the user.
:func:`core.mosaic.weighting.tile_weights` turns the masks into tile weights.

MediaPipe is imported inside the functions (about 2 s the first time).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..image.convert import as_uint8_rgb
from ..image.geometry import fit_longest_side, resize

__all__ = [
    "FACE_MODEL",
    "PERSON_MODEL",
    "Regions",
    "face_landmarks",
    "face_mask",
    "person_probability",
    "person_mask",
    "region_masks",
]

FACE_MODEL = "face_landmarker.task"
PERSON_MODEL = "selfie_segmenter.tflite"

#: Longest side the detectors see; masks come back at this resolution.
DETECT_SIDE = 1024

_LOCK = threading.Lock()  # MediaPipe task objects are not thread-safe; creating them is cheap


@dataclass
class Regions:
    """Masks of one image, at the image's resolution.

    Attributes
    ----------
    face : (H, W) bool
        Union of the faces' landmark hulls.
    person : (H, W) bool
        P(person) >= 0.5 by the selfie segmenter.
    n_faces : int
    notes : list of str
        What could not be detected, for the user.
    """

    face: NDArray[np.bool_]
    person: NDArray[np.bool_]
    n_faces: int
    notes: list[str]

    @property
    def empty(self) -> bool:
        """Neither a face nor a person was found."""
        return not (self.face.any() or self.person.any())


def _vision():
    """``(mediapipe, vision, BaseOptions)`` without TensorFlow (see core.mediapipe_tasks)."""
    from ..mediapipe_tasks import import_vision

    return import_vision()


def _model(name: str, path: str | Path | None) -> str:
    if path is not None:
        return str(path)
    from ..modelfiles import model_path

    return str(model_path(name))


def face_landmarks(image: NDArray, *, model: str | Path | None = None, max_faces: int = 8) -> list[NDArray]:
    """Face landmarks in pixels, one ``(478, 2)`` array of ``(x, y)`` per face.

    Parameters
    ----------
    image : (H, W, 3) uint8 RGB
    model : path, optional
        ``face_landmarker.task``; by default :func:`core.modelfiles.model_path`.
    max_faces : int

    Raises
    ------
    core.jobs.ModelUnavailableError
        The model file is missing and cannot be fetched.

    Examples
    --------
    >>> import skimage.data  # doctest: +SKIP
    >>> faces = face_landmarks(skimage.data.astronaut())  # doctest: +SKIP
    >>> len(faces), faces[0].shape  # doctest: +SKIP
    (1, (478, 2))
    """
    rgb = as_uint8_rgb(image)
    path = _model(FACE_MODEL, model)
    mp, vision, BaseOptions = _vision()
    options = vision.FaceLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=path),
        running_mode=vision.RunningMode.IMAGE,
        num_faces=max_faces,
        min_face_detection_confidence=0.5,
    )
    with _LOCK, vision.FaceLandmarker.create_from_options(options) as landmarker:
        result = landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    h, w = rgb.shape[:2]
    return [
        np.array([[p.x * w, p.y * h] for p in face], np.float64)
        for face in result.face_landmarks
    ]


def face_mask(shape: tuple[int, int], faces: list[NDArray]) -> NDArray[np.bool_]:
    """Fill the convex hull of each face's landmarks.

    Parameters
    ----------
    shape : (H, W)
    faces : list of (N, 2) arrays of (x, y) pixels

    Examples
    --------
    >>> square = np.array([[2, 2], [6, 2], [6, 6], [2, 6], [4, 4]], float)
    >>> int(face_mask((10, 10), [square]).sum())
    25
    """
    from scipy.spatial import ConvexHull, QhullError
    from skimage.draw import polygon

    mask = np.zeros(shape, bool)
    for pts in faces:
        pts = np.asarray(pts, np.float64)
        try:
            hull = pts[ConvexHull(pts).vertices]
        except (QhullError, ValueError):
            continue
        rr, cc = polygon(hull[:, 1], hull[:, 0], shape)
        mask[rr, cc] = True
        # include the hull's boundary pixels as well
        rr, cc = np.rint(hull[:, 1]).astype(int).clip(0, shape[0] - 1), np.rint(hull[:, 0]).astype(int).clip(0, shape[1] - 1)
        mask[rr, cc] = True
    return mask


def person_probability(image: NDArray, *, model: str | Path | None = None) -> NDArray[np.float32]:
    """P(person) per pixel from the selfie segmenter, ``(H, W)`` float32.

    Examples
    --------
    >>> import skimage.data  # doctest: +SKIP
    >>> round(float((person_probability(skimage.data.astronaut()) > 0.5).mean()), 2)  # doctest: +SKIP
    0.54
    """
    rgb = as_uint8_rgb(image)
    path = _model(PERSON_MODEL, model)
    mp, vision, BaseOptions = _vision()
    options = vision.ImageSegmenterOptions(
        base_options=BaseOptions(model_asset_path=path),
        running_mode=vision.RunningMode.IMAGE,
        output_confidence_masks=True,
        output_category_mask=False,
    )
    with _LOCK, vision.ImageSegmenter.create_from_options(options) as segmenter:
        result = segmenter.segment(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb))
    prob = np.array(result.confidence_masks[0].numpy_view(), np.float32)
    return prob.reshape(rgb.shape[:2])


def person_mask(image: NDArray, *, model: str | Path | None = None, threshold: float = 0.5) -> NDArray[np.bool_]:
    """Pixels the selfie segmenter calls "person" (P >= ``threshold``)."""
    return person_probability(image, model=model) >= threshold


def _grow(mask: NDArray[np.bool_], shape: tuple[int, int]) -> NDArray[np.bool_]:
    """A mask found on the shrunk image, back at the image's size (bilinear, then >= 0.5)."""
    if mask.shape == tuple(shape):
        return mask
    return resize(mask.astype(np.uint8) * 255, shape[1], shape[0], resample="bilinear") >= 128


def region_masks(
    image: NDArray,
    *,
    faces: bool = True,
    people: bool = True,
    face_model: str | Path | None = None,
    person_model: str | Path | None = None,
    side: int = DETECT_SIDE,
) -> Regions:
    """Face and person masks of an image, at the image's resolution.

    The detectors see the image shrunk to ``side`` pixels on its long side.

    Raises
    ------
    core.jobs.ModelUnavailableError
        A model file is missing (the message says how to fix it).

    Examples
    --------
    >>> import skimage.data  # doctest: +SKIP
    >>> r = region_masks(skimage.data.astronaut())  # doctest: +SKIP
    >>> r.n_faces, bool(r.face.any()), bool(r.person.any())  # doctest: +SKIP
    (1, True, True)
    """
    rgb = as_uint8_rgb(image)
    small = fit_longest_side(rgb, side)
    shape = rgb.shape[:2]
    notes: list[str] = []
    face = np.zeros(shape, bool)
    person = np.zeros(shape, bool)
    n_faces = 0
    if faces:
        found = face_landmarks(small, model=face_model)
        n_faces = len(found)
        if found:
            face = _grow(face_mask(small.shape[:2], found), shape)
        else:
            notes.append("no face found")
    if people:
        person = _grow(person_mask(small, model=person_model), shape)
        if not person.any():
            notes.append("no person found")
    return Regions(face=face, person=person, n_faces=n_faces, notes=notes)
