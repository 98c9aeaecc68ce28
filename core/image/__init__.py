"""Images: safe decoding and encoding, and the one owner of resizing, square crops and uint8 RGB.

Public verbs, by module:
- :mod:`core.image.io`: UPLOAD_TYPES, ImageError, DecodedImage, open_image, to_rgb, decode_image, load_image, encode_jpeg
- :mod:`core.image.geometry`: crop_square, fit_longest_side, resize, square_resize
- :mod:`core.image.convert`: as_uint8_rgb
"""

from . import convert, geometry, io
from .convert import (
    as_uint8_rgb,
)
from .geometry import (
    crop_square,
    fit_longest_side,
    resize,
    square_resize,
)
from .io import (
    UPLOAD_TYPES,
    DecodedImage,
    ImageError,
    decode_image,
    encode_jpeg,
    load_image,
    open_image,
    to_rgb,
)

__all__ = [*io.__all__, *geometry.__all__, *convert.__all__]
