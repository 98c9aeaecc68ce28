"""The long jobs the app runs in worker processes (:mod:`core.workers`), with their models kept loaded.

Each function here takes plain data (a catalogue, a request, names) and the
:mod:`core.jobs` keywords, and returns plain, picklable data. The heavy
objects they need (a CNN extractor, the face engine, photo tiles) are built
once per worker process and kept, so the second job of a kind does not load
them again; they never enter the server process.

Examples
--------
>>> from core.workers import JobCall
>>> call = JobCall(features, ([], "colour_texture"))
>>> call.func.__module__
'core.worker_jobs'
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from functools import lru_cache

import pandas as pd

from core.jobs import CancelCheck, Progress, WeightsUnavailableError

__all__ = ["features", "face_index", "mosaic", "forecast_training", "extractor"]

_LOCK = threading.Lock()


@lru_cache(maxsize=8)
def extractor(name: str, raw_size: int = 150, weights: str | None = "imagenet"):
    """One feature extractor per feature set in this process (a CNN keeps its network loaded)."""
    from core.explore.features import make_extractor

    return make_extractor(name, raw_size=raw_size, weights=weights)


def features(items: Sequence[tuple[str, str]], name: str, raw_size: int = 150, weights: str | None = "imagenet", *,
             progress: Progress | None = None, cancel: CancelCheck | None = None):
    """:func:`core.explore.features.compute_features` of ``items`` with feature set ``name``.

    Raises :class:`~core.jobs.WeightsUnavailableError` when a CNN's ImageNet weights cannot be had.
    """
    from core.cache import default_cache
    from core.explore.features import compute_features

    return compute_features(list(items), extractor(name, int(raw_size), weights), cache=default_cache(),
                            progress=progress, cancel=cancel)


@lru_cache(maxsize=1)
def face_engine():
    """This process's face engine (MediaPipe + dlib), loaded at its first use."""
    from core.faces.engine import FaceEngine

    return FaceEngine()


def face_index(catalogue: pd.DataFrame, *, progress: Progress | None = None,
               cancel: CancelCheck | None = None) -> int:
    """Index the faces of every photo not indexed yet, then pack the index; returns the photos indexed.

    The index itself stays in the disk cache (the page reads the pack), so only a count comes back.
    """
    from core.cache import default_cache
    from core.faces.index import build_face_index, pack_face_index

    cache = default_cache()
    index = build_face_index(catalogue, face_engine(), cache=cache, progress=progress, cancel=cancel)
    pack_face_index(catalogue, cache)
    return int(index.n_done)


_TILES: OrderedDict = OrderedDict()  # (shas, size) -> PhotoTiles, the latest few
_TILES_KEPT = 4


def _photo_tiles(shas, paths, size, *, cache=None, progress=None, cancel=None):
    """:func:`core.mosaic.pool.load_photo_tiles`, the latest few kept in this process."""
    from core.mosaic.pool import load_photo_tiles

    key = (tuple(shas), int(size))
    with _LOCK:
        if key in _TILES:
            _TILES.move_to_end(key)
            return _TILES[key]
    loaded = load_photo_tiles(shas, paths, size, cache=cache, progress=progress, cancel=cancel)
    if not loaded.failed:
        with _LOCK:
            _TILES[key] = loaded
            while len(_TILES) > _TILES_KEPT:
                _TILES.popitem(last=False)
    return loaded


def mosaic(request, *, progress: Progress | None = None, cancel: CancelCheck | None = None):
    """:func:`core.mosaic.build.build_mosaic` of ``request`` (a ``MosaicRequest``), photo tiles kept in this process."""
    from core.mosaic.build import build_mosaic

    return build_mosaic(request, progress=progress, cancel=cancel, load_tiles=_photo_tiles)


def _imagenet_classifier():
    """MobileNetV3 Small with ImageNet weights, loaded once in this process."""
    cnn = extractor("mobilenet_v3_small")
    cnn.ensure_fitted()
    return cnn


def _no_weights(message: str):
    def unavailable():
        raise WeightsUnavailableError(message)
    return unavailable


def forecast_training(request, *, weights_failure: str | None = None, progress: Progress | None = None,
                      cancel: CancelCheck | None = None):
    """:func:`core.forecast.training.train_and_save` with this process's classifier and face engine.

    ``weights_failure``: why the ImageNet weights are known to be unavailable (the server remembers a
    failed download), so training does not try the download again and says why instead.
    """
    from core.forecast.training import train_and_save

    classifier = _no_weights(weights_failure) if weights_failure else _imagenet_classifier
    return train_and_save(request, imagenet_classifier=classifier, face_engine=face_engine,
                          progress=progress, cancel=cancel)
