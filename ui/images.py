"""Images sent inline with the page (``data:`` URIs) instead of as media files.

``st.image`` with an array stores the picture in Streamlit's media file
manager and the browser fetches it by URL. When a newer run of the page
replaces it before the browser has fetched it — routine under load, with
many sessions and fast reruns — the fetch comes back 404 and the user sees a
broken image (``bench/load.py`` counted dozens). An inline image travels in
the same message as the page, so it cannot go missing.
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

__all__ = ["inline"]


def inline(image: np.ndarray | Image.Image, *, quality: int = 90) -> str:
    """A ``data:`` URI of ``image``: JPEG, or PNG when it has transparency.

    Float arrays are taken as ``[0, 1]``; greyscale, RGB and RGBA are kept.

    Examples
    --------
    >>> inline(np.zeros((2, 2, 3), np.uint8))[:23]
    'data:image/jpeg;base64,'
    >>> inline(np.zeros((2, 2, 4)))[:22]
    'data:image/png;base64,'
    """
    if isinstance(image, np.ndarray):
        array = image
        if array.dtype != np.uint8:
            array = (np.clip(array.astype(np.float32), 0.0, 1.0) * 255 + 0.5).astype(np.uint8)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[:, :, 0]
        image = Image.fromarray(array)
    buffer = io.BytesIO()
    if image.mode in ("RGBA", "LA", "P"):
        image.save(buffer, "PNG")
        kind = "png"
    else:
        image.convert("RGB" if image.mode not in ("L", "RGB") else image.mode).save(buffer, "JPEG", quality=quality)
        kind = "jpeg"
    return f"data:image/{kind};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
