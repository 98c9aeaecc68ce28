"""MediaPipe Tasks, imported without TensorFlow.

``mediapipe.tasks`` imports TensorFlow (5-20 s and about 500 MB here) only to
find a documentation decorator when TensorFlow happens to be installed, as it
is for the Explore page. Pre-registering the no-op fallback that MediaPipe
itself uses when TensorFlow is missing avoids that cost.
"""

from __future__ import annotations

import sys
import types

__all__ = ["import_vision"]

_OPTIONAL = "mediapipe.tasks.python.core.optional_dependencies"


def import_vision():
    """Return ``(mediapipe, vision, BaseOptions)`` from MediaPipe Tasks.

    Examples
    --------
    >>> mp, vision, BaseOptions = import_vision()  # doctest: +SKIP
    """
    if _OPTIONAL not in sys.modules and "mediapipe.tasks" not in sys.modules:
        stub = types.ModuleType(_OPTIONAL)
        stub.doc_controls = types.SimpleNamespace(do_not_generate_docs=lambda obj: obj)  # type: ignore[attr-defined]
        sys.modules[_OPTIONAL] = stub
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    return mp, vision, BaseOptions
