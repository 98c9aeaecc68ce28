"""Image features for the Explore map: raw pixels, colour & texture, CNNs.

Three families, all scikit-learn style (``fit`` then ``transform`` on a list
of ``(H, W, 3)`` uint8 RGB images):

:class:`RawPixels`
    The seed analysis' features: the photo shrunk to 150×150×3 (size
    configurable), flattened, in ``[0, 1]``. Colour and layout only.
:class:`ColourTexture`
    Hand-made descriptors from scikit-image that need no model: a joint
    colour histogram (HSV or CIE Lab) plus texture (uniform LBP histograms
    and HOG). Each block is a normalised histogram, so Euclidean distance
    compares like with like.
:class:`CNNFeatures`
    A ``keras.applications`` ImageNet classifier on the TensorFlow backend:
    VGG19's ``fc1`` layer (4096-d, the seed's), or a fast pooled backbone
    (MobileNetV3Small, the default, or EfficientNetB0). It also returns the
    1,000 ImageNet class probabilities, so the same pass gives the labels.
    ImageNet weights download at first use into Keras' own cache
    (``~/.keras/models``); when they cannot be had, :meth:`CNNFeatures.fit`
    raises :class:`WeightsUnavailableError` with a message for the user.
    ``weights=None`` gives random weights (tests, offline benchmarks).

:func:`compute_features` runs any of them over an archive, batch by batch,
with progress and cancel, caching one entry per image sha256 and feature
set in the :class:`~core.cache.DiskCache`, or (``pack=True``, what
``feedlens batch`` does) one *pack* per chunk of photos, so a million photos
in an object store is not a million tiny objects. Each entry or pack is
written atomically, so a cancelled job leaves only whole ones behind, and a
second run only reads them, from entries or packs alike. Inputs are the cached 256-px thumbnails (decoded once, in JPEG
draft mode, by :mod:`core.archive.ingest`), which keeps 1,000 photos cheap.

TensorFlow and Keras are imported inside the functions that need them.
"""

from __future__ import annotations

import io
import os
import threading
import zipfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image

from ..cache import DiskCache, default_cache, sha256_bytes
from ..image.geometry import square_resize
from ..image.io import ImageError, load_image
from ..jobs import CancelCheck, Cancelled, Progress, WeightsUnavailableError

__all__ = [
    "FeatureSpec",
    "FEATURE_SETS",
    "DEFAULT_FEATURE_SET",
    "BACKBONES",
    "FeatureResult",
    "RawPixels",
    "ColourTexture",
    "CNNFeatures",
    "make_extractor",
    "load_thumbnails",
    "compute_features",
]


# Keras builds a functional model with per-thread naming state; two threads
# building at once (two Streamlit sessions, or a rerun that overlaps the run it
# replaces) can end with clashing layer names. One build at a time.
_BUILD_LOCK = threading.RLock()


@dataclass(frozen=True)
class FeatureSpec:
    """One feature set the page offers.

    Attributes
    ----------
    name : str
        Key used in code, caches and URLs (``"mobilenet_v3_small"``).
    label : str
        What the user reads.
    family : str
        ``"raw"``, ``"colour_texture"`` or ``"cnn"``.
    description : str
        One sentence on what it captures.
    needs_weights : bool
        Whether ImageNet weights must be downloaded.
    """

    name: str
    label: str
    family: str
    description: str
    needs_weights: bool = False

    @property
    def l2_normalise(self) -> bool:
        """Whether the map scales each feature vector to unit length first.

        Yes for CNN and colour & texture features (their direction is what
        matters); no for raw pixels, whose length is the photo's brightness.

        Examples
        --------
        >>> FEATURE_SETS["raw"].l2_normalise, FEATURE_SETS["colour_texture"].l2_normalise
        (False, True)
        """
        return self.family != "raw"


FEATURE_SETS: dict[str, FeatureSpec] = {
    spec.name: spec
    for spec in [
        FeatureSpec("mobilenet_v3_small", "CNN: MobileNetV3 Small (fast)", "cnn",
                    "Pooled 576-d features of a small ImageNet CNN; also gives ImageNet labels.", True),
        FeatureSpec("efficientnet_b0", "CNN: EfficientNet B0", "cnn",
                    "Pooled 1280-d features of a stronger ImageNet CNN; also gives ImageNet labels.", True),
        FeatureSpec("vgg19_fc1", "CNN: VGG19 fc1 (the seed's, slow)", "cnn",
                    "4096-d activations of VGG19's first fully connected layer, as in the seed analysis.", True),
        FeatureSpec("colour_texture", "Colour & texture (no model)", "colour_texture",
                    "Colour histogram plus LBP and HOG texture; needs no download."),
        FeatureSpec("raw", "Raw pixels", "raw",
                    "The photo shrunk to a small square, pixel by pixel: colour and layout only (the seed's first map)."),
    ]
}

#: The fast backbone, proposed first (falls back to colour & texture offline).
DEFAULT_FEATURE_SET = "mobilenet_v3_small"


@dataclass(frozen=True)
class _Backbone:
    constructor: str  # attribute of keras.applications
    size: int  # input side in pixels
    feature_layer: str  # layer name, or "gap" for the last GlobalAveragePooling2D
    preprocess: str | None  # module of keras.applications with preprocess_input, or None
    dim: int


#: The Keras backbones: how to build each and which layer gives the features.
BACKBONES: dict[str, _Backbone] = {
    "mobilenet_v3_small": _Backbone("MobileNetV3Small", 224, "gap", None, 576),
    "efficientnet_b0": _Backbone("EfficientNetB0", 224, "avg_pool", None, 1280),
    "vgg19_fc1": _Backbone("VGG19", 224, "fc1", "vgg19", 4096),
}


class RawPixels:
    """Raw pixels: the photo as a ``size × size × 3`` vector in ``[0, 1]``.

    Parameters
    ----------
    size : int, default 150
        Side of the square the photo is shrunk to (the seed used 150).

    Examples
    --------
    >>> X = RawPixels(size=4).fit().transform([np.full((10, 20, 3), 255, np.uint8)])
    >>> X.shape, float(X.max())
    ((1, 48), 1.0)
    """

    def __init__(self, size: int = 150) -> None:
        self.size = size

    @property
    def cache_tag(self) -> str:
        """Name of this exact feature set in the disk cache."""
        return f"raw{int(self.size)}-v1"

    def fit(self, X: object = None, y: object = None) -> "RawPixels":
        """Nothing to learn; returns ``self``."""
        if int(self.size) < 2:
            raise ValueError("size must be at least 2 pixels")
        return self

    def transform_uint8(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """The features as uint8 (what the cache stores): ``(n, size*size*3)``."""
        side = int(self.size)
        out = np.empty((len(images), side * side * 3), dtype=np.uint8)
        for i, image in enumerate(images):
            out[i] = square_resize(image, side).reshape(-1)
        return out

    def transform(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Feature matrix ``(n, size*size*3)``, float32 in ``[0, 1]``."""
        return self.transform_uint8(images).astype(np.float32) / 255.0


class ColourTexture:
    """Colour histogram plus texture descriptors; no model needed.

    The photo is centre-cropped and shrunk to ``size`` pixels. Blocks:

    * joint colour histogram, ``bins`` per channel, in HSV or CIE Lab, over
      the whole photo and over its 2×2 quadrants (where colours are);
    * uniform LBP histograms at radius 1 and 3 (fine and coarse texture);
    * HOG, 9 orientations over a 4×4 grid of cells (edges and shape).

    Histograms are square-rooted (the Hellinger map) and every block is
    scaled to unit length and weighted, so no block dominates the distance.

    Parameters
    ----------
    colour_space : {"hsv", "lab"}
        Colour space of the histogram.
    bins : tuple of 3 ints
        Histogram bins per channel.
    texture : {"lbp+hog", "lbp", "hog", "none"}
        Texture blocks to add.
    size : int
        Working size in pixels.
    weights : tuple of 3 floats
        Weight of the colour, LBP and HOG blocks.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = ColourTexture().fit().transform([rng.integers(0, 255, (64, 80, 3), dtype=np.uint8)])
    >>> X.shape[0], X.dtype.name, bool(np.isfinite(X).all())
    (1, 'float32', True)
    """

    def __init__(
        self,
        colour_space: str = "hsv",
        bins: tuple[int, int, int] = (8, 4, 4),
        texture: str = "lbp+hog",
        size: int = 128,
        weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    ) -> None:
        self.colour_space = colour_space
        self.bins = bins
        self.texture = texture
        self.size = size
        self.weights = weights

    @property
    def cache_tag(self) -> str:
        """Name of this exact feature set in the disk cache."""
        b = "x".join(str(int(v)) for v in self.bins)
        w = "-".join(f"{v:g}" for v in self.weights)
        return f"ct-{self.colour_space}-{b}-{self.texture.replace('+', '')}-{int(self.size)}-{w}-v1"

    def fit(self, X: object = None, y: object = None) -> "ColourTexture":
        """Check the parameters; nothing to learn. Returns ``self``."""
        if self.colour_space not in ("hsv", "lab"):
            raise ValueError("colour_space must be 'hsv' or 'lab'")
        if self.texture not in ("lbp+hog", "lbp", "hog", "none"):
            raise ValueError("texture must be 'lbp+hog', 'lbp', 'hog' or 'none'")
        return self

    def _colour(self, image: np.ndarray) -> np.ndarray:
        if self.colour_space == "hsv":
            # Pillow's HSV conversion is C code: all three channels in 0..255.
            values = np.asarray(Image.fromarray(image).convert("HSV"), dtype=np.float32) / 256.0
        else:
            from skimage.color import rgb2lab

            lab = rgb2lab(image)
            values = np.clip((lab + [0.0, 100.0, 100.0]) / [100.0001, 200.0001, 200.0001], 0.0, 0.9999)
        bins = np.asarray(self.bins, dtype=np.int64)
        codes = (values * bins).astype(np.int64)
        flat = (codes[..., 0] * bins[1] + codes[..., 1]) * bins[2] + codes[..., 2]
        n_bins = int(np.prod(bins))
        h, w = flat.shape
        regions = [flat] + [flat[r : r + h // 2, c : c + w // 2] for r in (0, h // 2) for c in (0, w // 2)]
        blocks = []
        for k, region in enumerate(regions):
            hist = np.bincount(region.ravel(), minlength=n_bins).astype(np.float64)
            hist = np.sqrt(hist / max(hist.sum(), 1.0))
            blocks.append(hist * (1.0 if k == 0 else 0.5))
        return np.concatenate(blocks)

    @staticmethod
    def _lbp(grey: np.ndarray) -> np.ndarray:
        from skimage.feature import local_binary_pattern

        parts = []
        for points, radius in ((8, 1), (8, 3)):
            codes = local_binary_pattern(grey, points, radius, method="uniform")
            hist, _ = np.histogram(codes, bins=points + 2, range=(0, points + 2))
            parts.append(np.sqrt(hist / max(hist.sum(), 1)))
        return np.concatenate(parts)

    def _hog(self, grey: np.ndarray) -> np.ndarray:
        from skimage.feature import hog

        cell = max(int(self.size) // 4, 4)
        return hog(grey, orientations=9, pixels_per_cell=(cell, cell), cells_per_block=(2, 2),
                   block_norm="L2-Hys", feature_vector=True)

    def _one(self, image: np.ndarray) -> np.ndarray:
        from skimage.color import rgb2gray

        square = square_resize(image, int(self.size))
        blocks = [(self._colour(square), self.weights[0])]
        if self.texture != "none":
            grey = (rgb2gray(square) * 255).astype(np.uint8)
            if "lbp" in self.texture:
                blocks.append((self._lbp(grey), self.weights[1]))
            if "hog" in self.texture:
                blocks.append((self._hog(grey.astype(np.float32) / 255.0), self.weights[2]))
        out = []
        for block, weight in blocks:
            norm = np.linalg.norm(block)
            out.append(block / norm * weight if norm > 0 else block)
        return np.concatenate(out).astype(np.float32)

    def transform(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Feature matrix ``(n, d)``, float32."""
        rows = [self._one(image) for image in images]
        if not rows:
            return np.zeros((0, len(self._one(np.zeros((8, 8, 3), np.uint8)))), np.float32)
        return np.stack(rows)


class CNNFeatures:
    """Features (and ImageNet probabilities) from a Keras ImageNet CNN.

    Parameters
    ----------
    backbone : {"mobilenet_v3_small", "efficientnet_b0", "vgg19_fc1"}
        Which network, see :data:`BACKBONES`.
    weights : {"imagenet", None}
        ImageNet weights (downloaded by Keras at first use) or random
        initialisation (for tests and offline benchmarks: the features and
        labels are then meaningless).
    batch_size : int
        Images per inference batch.
    random_state : int
        Seed of the random initialisation when ``weights=None``.
    input_size : int, optional
        Input side in pixels (default 224). Only for ``weights=None``, to
        make tests cheap; ImageNet weights need 224.

    Examples
    --------
    >>> cnn = CNNFeatures("mobilenet_v3_small", weights=None)
    >>> cnn.cache_tag, cnn.dim
    ('mobilenet_v3_small-random0-224-v1', 576)
    """

    def __init__(
        self,
        backbone: str = "mobilenet_v3_small",
        weights: str | None = "imagenet",
        batch_size: int = 32,
        random_state: int = 0,
        input_size: int | None = None,
    ) -> None:
        self.backbone = backbone
        self.weights = weights
        self.batch_size = batch_size
        self.random_state = random_state
        self.input_size = input_size

    @property
    def spec(self) -> _Backbone:
        """How the backbone is built."""
        if self.backbone not in BACKBONES:
            raise ValueError(f"unknown backbone {self.backbone!r}; choose one of {sorted(BACKBONES)}")
        return BACKBONES[self.backbone]

    @property
    def size(self) -> int:
        """Input side in pixels."""
        return int(self.input_size or self.spec.size)

    @property
    def dim(self) -> int:
        """Length of the feature vector."""
        return self.spec.dim

    @property
    def has_labels(self) -> bool:
        """Whether the ImageNet probabilities mean anything (real weights)."""
        return self.weights == "imagenet"

    @property
    def cache_tag(self) -> str:
        """Name of this exact feature set in the disk cache."""
        weights = "imagenet" if self.weights == "imagenet" else f"random{int(self.random_state)}"
        return f"{self.backbone}-{weights}-{self.size}-v1"

    def fit(self, X: object = None, y: object = None) -> "CNNFeatures":
        """Build the network (downloading ImageNet weights if needed).

        Raises
        ------
        WeightsUnavailableError
            When the weights cannot be downloaded (offline) or loaded.
        """
        if self.weights not in ("imagenet", None):
            raise ValueError("weights must be 'imagenet' or None")
        if self.weights == "imagenet" and self.size != self.spec.size:
            raise ValueError(f"ImageNet weights need {self.spec.size}-pixel inputs")
        spec = self.spec
        import keras

        with _BUILD_LOCK:
            return self._build(keras, spec)

    def ensure_fitted(self) -> "CNNFeatures":
        """Build the network unless it is built (safe to call from several threads)."""
        with _BUILD_LOCK:
            if not hasattr(self, "model_"):
                self.fit()
        return self

    def _build(self, keras, spec: _Backbone) -> "CNNFeatures":
        constructor = getattr(keras.applications, spec.constructor)
        shape = (self.size, self.size, 3)
        if self.weights is None:
            # Deterministic random weights, without disturbing the caller's global RNG state.
            import random

            py_state, np_state = random.getstate(), np.random.get_state()
            try:
                keras.utils.set_random_seed(int(self.random_state))
                base = constructor(weights=None, include_top=True, input_shape=shape)
            finally:
                random.setstate(py_state)
                np.random.set_state(np_state)
        else:
            try:
                base = constructor(weights="imagenet", include_top=True, input_shape=shape)
            except Exception as exc:  # noqa: BLE001 - Keras raises a bare Exception on a failed download
                raise WeightsUnavailableError(_weights_message(spec.constructor, exc)) from exc
        if spec.feature_layer == "gap":
            pools = [layer for layer in base.layers if type(layer).__name__ == "GlobalAveragePooling2D"]
            feature = pools[-1].output
        else:
            feature = base.get_layer(spec.feature_layer).output
        self.model_ = keras.Model(base.inputs, [feature, base.outputs[0]], name=f"{self.backbone}_features")
        if spec.preprocess:
            self._preprocess = getattr(keras.applications, spec.preprocess).preprocess_input
        else:
            self._preprocess = None  # MobileNetV3 and EfficientNet rescale inside the model
        return self

    def _batch(self, images: Sequence[np.ndarray]) -> np.ndarray:
        batch = np.stack([square_resize(image, self.size) for image in images]).astype(np.float32)
        if self._preprocess is not None:
            batch = self._preprocess(batch)
        return batch

    def transform_with_probs(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Features ``(n, dim)`` and ImageNet probabilities ``(n, 1000)``, float32."""
        self.ensure_fitted()
        feats, probs = [], []
        step = max(1, int(self.batch_size))
        for start in range(0, len(images), step):
            f, p = self.model_.predict_on_batch(self._batch(images[start : start + step]))
            feats.append(np.asarray(f, dtype=np.float32).reshape(len(f), -1))
            probs.append(np.asarray(p, dtype=np.float32))
        if not feats:
            return np.zeros((0, self.dim), np.float32), np.zeros((0, 1000), np.float32)
        return np.concatenate(feats), np.concatenate(probs)

    def transform(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Feature matrix ``(n, dim)``, float32."""
        return self.transform_with_probs(images)[0]


def _keras_cache_dir() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"


def _weights_message(constructor: str, exc: BaseException) -> str:
    text = str(exc)
    if "URL fetch failure" in text or "Name or service not known" in text or "urlopen" in text.lower():
        reason = "the download failed (no internet connection?)"
    else:
        reason = f"loading them failed ({type(exc).__name__}: {text[:200]})"
    import re

    url = re.search(r"https?://\S+?\.(?:h5|keras)", text)
    wanted = f"the weight file {url.group(0).rsplit('/', 1)[-1]} ({url.group(0)})" if url else "the weight file"
    return (
        f"The ImageNet weights of {constructor} could not be had: {reason}. Keras downloads them once into "
        f"{_keras_cache_dir()}; to work offline, copy {wanted} there. Or use a feature set that needs no "
        "download (colour & texture, raw pixels)."
    )


def make_extractor(name: str, *, raw_size: int = 150, weights: str | None = "imagenet",
                   random_state: int = 0, batch_size: int = 32):
    """The extractor for a feature-set name of :data:`FEATURE_SETS`.

    Examples
    --------
    >>> make_extractor("raw", raw_size=64).cache_tag
    'raw64-v1'
    >>> make_extractor("vgg19_fc1", weights=None).dim
    4096
    """
    if name == "raw":
        return RawPixels(size=raw_size)
    if name == "colour_texture":
        return ColourTexture()
    if name in BACKBONES:
        return CNNFeatures(name, weights=weights, batch_size=batch_size, random_state=random_state)
    raise ValueError(f"unknown feature set {name!r}; choose one of {sorted(FEATURE_SETS)}")


@dataclass
class FeatureResult:
    """Features of every row of a catalogue.

    Attributes
    ----------
    features : numpy.ndarray
        ``(n, d)`` float32; rows whose photo could not be read are zeros.
    valid : numpy.ndarray
        ``(n,)`` bool: False where the photo could not be read.
    probs : numpy.ndarray or None
        ``(n, 1000)`` ImageNet probabilities (CNNs only).
    has_labels : bool
        Whether ``probs`` come from real ImageNet weights.
    computed, reused : int
        Images computed in this run and images read from the cache.
    """

    features: np.ndarray
    valid: np.ndarray
    probs: np.ndarray | None = None
    has_labels: bool = False
    computed: int = 0
    reused: int = 0
    tag: str = ""
    notes: list[str] = field(default_factory=list)


def load_thumbnails(
    items: Sequence[tuple[str, str | Path]], cache: DiskCache, workers: int | None = None
) -> list[np.ndarray | None]:
    """Decode the cached thumbnails of ``(sha256, path)`` pairs, in threads.

    Returns one RGB array per item, or None where the photo cannot be read.
    """
    from ..archive.ingest import thumbnail_bytes

    def one(item: tuple[str, str | Path]) -> np.ndarray | None:
        data = thumbnail_bytes(item[0], item[1], cache)
        if data is None:
            return None
        try:
            return load_image(data)
        except ImageError:
            return None

    if len(items) <= 4:
        return [one(item) for item in items]
    with ThreadPoolExecutor(max_workers=workers or min(4, (os.cpu_count() or 2) * 2)) as pool:
        return list(pool.map(one, items))


def _entry_kind(tag: str) -> str:
    return f"features/{tag}"


def _pack_kind(tag: str) -> str:
    return f"features-pack/{tag}"


def _pack_key(shas: Iterable[str]) -> str:
    """A pack's key: the sha256 of its photos' distinct, sorted sha256s (so a rerun of the same chunk finds it)."""
    return sha256_bytes("\n".join(sorted(set(shas))).encode())


def _pack_bytes(shas: Sequence[str], stored: dict[str, np.ndarray]) -> bytes:
    """One pack: an ``.npz`` of ``shas``, ``rows`` (as the per-photo entries store them) and ``valid``.

    A photo that could not be read has ``valid`` False and a row of zeros.
    The members carry a fixed date, so the same rows give the same bytes.
    """
    valid = np.array([sha in stored for sha in shas], dtype=bool)
    first = next((stored[sha] for sha in shas if sha in stored), None)
    rows = (np.zeros((len(shas), 0), np.float32) if first is None else
            np.stack([stored[sha] if sha in stored else np.zeros_like(first) for sha in shas]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        for name, array in (("shas", np.asarray(list(shas), dtype=str)), ("rows", rows), ("valid", valid)):
            member = io.BytesIO()
            np.save(member, array, allow_pickle=False)
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0)), member.getvalue())
    return buf.getvalue()


def _read_pack(raw: bytes | None) -> dict[str, np.ndarray | None] | None:
    """``{sha: row}`` of a pack (``None`` rows: photos that could not be read); ``None`` if missing or damaged."""
    if raw is None:
        return None
    try:
        with np.load(io.BytesIO(raw), allow_pickle=False) as npz:
            shas, rows, valid = npz["shas"], npz["rows"], npz["valid"]
    except (ValueError, OSError, EOFError, KeyError, zipfile.BadZipFile):
        return None
    if not (len(shas) == len(rows) == len(valid)):
        return None
    return {str(sha): (rows[i] if ok else None) for i, (sha, ok) in enumerate(zip(shas, valid))}


class _PackIndex:
    """Which pack holds which photo, for one cache and feature set (per process)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.where: dict[str, str] = {}


_PACKS: dict[tuple[str, str], _PackIndex] = {}
_PACKS_LOCK = threading.Lock()


def _from_packs(cache: DiskCache, kind: str, wanted: set[str]) -> dict[str, np.ndarray]:
    """Rows of the ``wanted`` photos found in packs.

    One listing of the packs; a pack not seen before in this process is read
    once to learn its photos (remembered), and then only the packs holding
    wanted photos are read.
    """
    if not wanted:
        return {}
    listed = cache.keys(kind, ".npz")
    if not listed:
        return {}
    found: dict[str, np.ndarray] = {}
    with _PACKS_LOCK:
        index = _PACKS.setdefault((cache.location, kind), _PackIndex())
        gone = index.seen.difference(listed)
        if gone:  # packs deleted from the store since
            index.seen -= gone
            index.where = {sha: key for sha, key in index.where.items() if key not in gone}
        for key in listed:
            if key in index.seen:
                continue
            index.seen.add(key)
            for sha, row in (_read_pack(cache.get(kind, key, ".npz")) or {}).items():
                if row is not None:
                    index.where[sha] = key
                    if sha in wanted:
                        found[sha] = row
        by_pack: dict[str, list[str]] = {}
        for sha in wanted.difference(found):
            if sha in index.where:
                by_pack.setdefault(index.where[sha], []).append(sha)
        for key, shas in by_pack.items():
            pack = _read_pack(cache.get(kind, key, ".npz")) or {}
            for sha in shas:
                row = pack.get(sha)
                if row is None:
                    index.where.pop(sha, None)
                else:
                    found[sha] = row
    return found


def compute_features(
    items: Iterable[tuple[str, str | Path]],
    extractor,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    chunk: int | None = None,
    pack: bool = False,
    other_packs: bool = False,
) -> FeatureResult:
    """Features of many photos, cached per image sha256 and feature set.

    Parameters
    ----------
    items : iterable of (sha256, path)
        One pair per catalogue row (the ``sha256`` and ``path`` columns).
        Repeated photos are computed once.
    extractor : RawPixels, ColourTexture or CNNFeatures
        What to compute; it is fitted here if needed.
    cache : DiskCache, optional
        Where entries live (default: :func:`~core.cache.default_cache`).
    progress : callable, optional
        ``progress(done, total, message)`` after each chunk.
    cancel : callable, optional
        Polled between chunks; return True to stop.
    chunk : int, optional
        Photos per chunk (default: the CNN batch size, else 64).
    pack : bool
        Store one pack per chunk of the distinct photos (kind
        ``features-pack/<tag>``, keyed by the chunk's photos) instead of one
        entry per photo: what the batch does, so an object store holds one
        object per chunk. A rerun with the same chunks reads each pack by
        its key, with no listing. Without ``pack``, vectors are looked up in
        the packs first (one listing), then in per-photo entries; the
        values are the same either way.
    other_packs : bool
        With ``pack``: photos whose chunk's pack is missing are also looked
        up in the other packs (one listing), as after a rerun with another
        chunk size. The batch asks for it on an archive it ran before; a
        first run skips the listing (it would find nothing).

    Returns
    -------
    FeatureResult

    Raises
    ------
    Cancelled
        When ``cancel()`` returns True. Entries already written are whole.
    WeightsUnavailableError
        When a CNN's ImageNet weights cannot be had.

    Examples
    --------
    >>> import tempfile
    >>> from core.cache import sha256_file
    >>> folder = Path(tempfile.mkdtemp()); path = folder / "red.png"
    >>> Image.new("RGB", (40, 30), "red").save(path)
    >>> cache = DiskCache(folder / "cache")
    >>> first = compute_features([(sha256_file(path), path)], RawPixels(size=8), cache=cache)
    >>> first.features.shape, first.computed
    ((1, 192), 1)
    >>> compute_features([(sha256_file(path), path)], RawPixels(size=8), cache=cache).reused
    1

    Packed, as the batch stores them, and read back the same:

    >>> packed = DiskCache(folder / "packed")
    >>> compute_features([(sha256_file(path), path)], RawPixels(size=8), cache=packed, pack=True).computed
    1
    >>> again = compute_features([(sha256_file(path), path)], RawPixels(size=8), cache=packed)
    >>> again.reused, bool((again.features == first.features).all())
    (1, True)
    """
    items = [(str(sha), path) for sha, path in items]
    cache = cache or default_cache()
    is_cnn = isinstance(extractor, CNNFeatures)
    kind = _entry_kind(extractor.cache_tag)
    pack_kind = _pack_kind(extractor.cache_tag)
    step = chunk or (extractor.batch_size if is_cnn else 64)
    unique: dict[str, str | Path] = {}
    for sha, path in items:
        unique.setdefault(sha, path)
    stored: dict[str, np.ndarray] = {}
    groups: list[list[str]] = []  # pack: the chunks of distinct photos, one pack each
    packed: set[int] = set()  # the groups whose pack exists
    if pack:
        # The chunks' own packs, read by key: a rerun of the same chunks lists nothing.
        order = list(unique)
        groups = [order[start : start + step] for start in range(0, len(order), step)]
        for g, group in enumerate(groups):
            found = _read_pack(cache.get(pack_kind, _pack_key(group), ".npz"))
            if found is not None:
                packed.add(g)
                stored.update((sha, row) for sha, row in found.items() if row is not None and sha in unique)
        if other_packs and len(packed) < len(groups):
            stored.update(_from_packs(cache, pack_kind, set(unique).difference(stored)))
    else:
        stored.update(_from_packs(cache, pack_kind, set(unique)))
    todo: list[str] = []
    for sha in unique:
        if sha in stored:
            continue
        entry = cache.get_array(kind, sha)
        if entry is None:
            todo.append(sha)
        else:
            stored[sha] = entry
    reused = len(stored)
    total = len(todo)
    missing: set[str] = set()
    if todo:
        if is_cnn and not hasattr(extractor, "model_"):
            if progress is not None:
                progress(0, total, f"Loading {extractor.spec.constructor}…")
            extractor.ensure_fitted()
        elif not is_cnn:
            extractor.fit()
        if pack:
            # Each pack holds its whole chunk (rows read back included), so the next run finds it by key.
            waiting = set(todo)
            chunks = [(g, [sha for sha in group if sha in waiting]) for g, group in enumerate(groups)]
            chunks = [(g, shas) for g, shas in chunks if shas]
        else:
            chunks = [(-1, todo[start : start + step]) for start in range(0, total, step)]
        done = 0
        if progress is not None:
            progress(0, total, f"Computing features: 0 of {total}")
        # Decode the next chunk's thumbnails while this one is computed.
        with ThreadPoolExecutor(max_workers=1) as prefetch:
            pending = prefetch.submit(load_thumbnails, [(sha, unique[sha]) for sha in chunks[0][1]], cache)
            for k, (g, shas) in enumerate(chunks):
                if cancel is not None and cancel():
                    pending.cancel()
                    raise Cancelled("feature job cancelled")
                images = pending.result()
                if k + 1 < len(chunks):
                    pending = prefetch.submit(load_thumbnails, [(sha, unique[sha]) for sha in chunks[k + 1][1]],
                                              cache)
                ok = [(sha, image) for sha, image in zip(shas, images) if image is not None]
                missing.update(sha for sha, image in zip(shas, images) if image is None)
                if ok:
                    batch = [image for _, image in ok]
                    if is_cnn:
                        feats, probs = extractor.transform_with_probs(batch)
                        rows = np.concatenate([feats, probs], axis=1)
                    elif isinstance(extractor, RawPixels):
                        rows = extractor.transform_uint8(batch)
                    else:
                        rows = extractor.transform(batch)
                    for (sha, _), row in zip(ok, rows):
                        if not pack:
                            cache.put_array(kind, sha, row)
                        stored[sha] = row
                if pack and (ok or g not in packed):
                    cache.put(pack_kind, _pack_key(groups[g]), _pack_bytes(groups[g], stored), ".npz")
                done += len(shas)
                if progress is not None:
                    progress(done, total, f"Computing features: {done} of {total}")
    return _assemble(items, stored, missing, extractor, is_cnn, computed=total - len(missing), reused=reused)


def _assemble(items, stored, missing, extractor, is_cnn, *, computed: int, reused: int) -> FeatureResult:
    n = len(items)
    any_row = next(iter(stored.values()), None)
    width = any_row.shape[0] if any_row is not None else (
        extractor.dim + 1000 if is_cnn else (int(extractor.size) ** 2 * 3 if isinstance(extractor, RawPixels) else 0)
    )
    matrix = np.zeros((n, width), dtype=np.float32)
    valid = np.zeros(n, dtype=bool)
    for i, (sha, _) in enumerate(items):
        row = stored.get(sha)
        if row is not None:
            matrix[i] = row
            valid[i] = True
    if isinstance(extractor, RawPixels):
        matrix /= 255.0
    probs = None
    if is_cnn:
        dim = width - 1000
        matrix, probs = matrix[:, :dim], matrix[:, dim:]
    notes = []
    if missing:
        notes.append(f"{len(missing)} photo(s) could not be read and are left out of the map.")
    return FeatureResult(
        features=np.ascontiguousarray(matrix),
        valid=valid,
        probs=None if probs is None else np.ascontiguousarray(probs),
        has_labels=bool(is_cnn and extractor.has_labels),
        computed=computed,
        reused=reused,
        tag=extractor.cache_tag,
        notes=notes,
    )
