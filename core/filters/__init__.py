"""Filters: single-image filters by kind, the step registry and pipeline, and applying a pipeline to many photos.

Every filter takes an image (uint8, uint16, bool or float in [0, 1]; gray,
RGB or RGBA) and returns a new float32 image in [0, 1]; see
:mod:`core.filters.convert` for the conventions (alpha, luminance or per
channel, OpenCV fast paths). Use the package, not the modules::

    import core.filters as F
    F.to_uint8(F.gaussian_blur(photo, 2.0))

Public verbs, by module:
- :mod:`core.filters.convert`: FloatImage, LUMA_WEIGHTS, BORDER_MODES, CHANNEL_MODES, to_float, to_uint8, luminance
- :mod:`core.filters.blur`: gaussian_blur, uniform_blur, median_blur
- :mod:`core.filters.kernels`: KERNEL_PRESETS, KERNEL_MAX_ABS, edges, validate_kernel, resize_kernel, convolve_kernel
- :mod:`core.filters.geometry`: crop, flip_ud, flip_lr, rotate
- :mod:`core.filters.masks`: circular_mask, blank_rows
- :mod:`core.filters.exposure`: equalize_hist, equalize_clahe
- :mod:`core.filters.colour`: CURVE_PRESETS, LOOKS, Look, grayscale, adjust_saturation, validate_curve_points, curve_lut, tone_curve, apply_look
- :mod:`core.filters.noise`: add_salt_pepper_noise
- :mod:`core.filters.compare`: absolute_difference, channel_histograms, psnr
- :mod:`core.filters.pipeline`: QUERY_PARAM, FORMAT_VERSION, MAX_STEPS, MAX_JSON_CHARS, MAX_QUERY_CHARS, PREVIEW_MAX_SIDE, ParamSpec, StepSpec, STEPS, GROUPS, describe_steps, Step, Pipeline, Preview, make_preview, apply_preview
- :mod:`core.filters.batch`: BATCH_LIMIT, FORMATS, BatchRequest, BatchResult, ZipWriteError, run_batch, render_file, encode_image, zip_name, batch_zip_name, scratch_zip_path
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["convert", "blur", "kernels", "geometry", "masks", "exposure", "colour", "noise", "compare", "pipeline", "batch"])
