"""Heavy objects owned once per server and shared by every page and session.

The face engine (MediaPipe + dlib) and the Keras CNN extractors each take
seconds and hundreds of MB to load; pages get them here, so a hosted server
holds one copy of each whichever pages its visitors open.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["face_engine", "extractor", "imagenet_classifier"]


@st.cache_resource(show_spinner="Loading the face models…")
def face_engine():
    """One MediaPipe + dlib face engine (thread-safe); raises if a model file cannot be had."""
    from core.faces.engine import FaceEngine

    return FaceEngine()


def extractor(name: str, raw_size: int = 150, random_weights: bool = False):
    """One feature extractor per feature set (a CNN keeps its network loaded)."""
    # Streamlit keys its cache on the arguments as passed (a default left out is another key), so every
    # call style must reach the same entry: one network in memory, whichever page asked first.
    return _extractor(str(name), int(raw_size) if name == "raw" else 150, bool(random_weights))


@st.cache_resource(show_spinner=False)
def _extractor(name: str, raw_size: int, random_weights: bool):
    from core.explore.features import make_extractor

    return make_extractor(name, raw_size=raw_size, weights=None if random_weights else "imagenet")


def imagenet_classifier():
    """MobileNetV3 Small with ImageNet weights, loaded; raises ``WeightsUnavailableError``."""
    return extractor("mobilenet_v3_small").ensure_fitted()
