"""Images: safe decoding and encoding, and the one owner of resizing, square crops and uint8 RGB.

Public verbs, by module:
- :mod:`core.image.io`: ImageError, DecodedImage, open_image, to_rgb, decode_image, load_image, encode_jpeg, crop_square
"""

from .io import (
    DecodedImage,
    ImageError,
    crop_square,
    decode_image,
    encode_jpeg,
    load_image,
    open_image,
    to_rgb,
)

__all__ = [
    "ImageError",
    "DecodedImage",
    "open_image",
    "to_rgb",
    "decode_image",
    "load_image",
    "encode_jpeg",
    "crop_square",
]
