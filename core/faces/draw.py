"""Drawing: face boxes (and name tags) on a photo."""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

__all__ = ["draw_faces"]


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
