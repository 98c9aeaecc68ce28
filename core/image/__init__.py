"""Images: safe decoding and encoding, and the one owner of resizing, square crops and uint8 RGB.

Public verbs, by module:
- :mod:`core.image.io`: UPLOAD_TYPES, ImageError, DecodedImage, open_image, to_rgb, decode_image, load_image, encode_jpeg
- :mod:`core.image.geometry`: crop_square, fit_longest_side, resize, square_resize
- :mod:`core.image.convert`: as_uint8_rgb
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["io", "geometry", "convert"])
