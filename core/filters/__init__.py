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

from . import batch, blur, colour, compare, convert, exposure, geometry, kernels, masks, noise, pipeline
from .batch import (
    BATCH_LIMIT,
    FORMATS,
    BatchRequest,
    BatchResult,
    ZipWriteError,
    batch_zip_name,
    encode_image,
    render_file,
    run_batch,
    scratch_zip_path,
    zip_name,
)
from .blur import (
    gaussian_blur,
    median_blur,
    uniform_blur,
)
from .colour import (
    CURVE_PRESETS,
    LOOKS,
    Look,
    adjust_saturation,
    apply_look,
    curve_lut,
    grayscale,
    tone_curve,
    validate_curve_points,
)
from .compare import (
    absolute_difference,
    channel_histograms,
    psnr,
)
from .convert import (
    BORDER_MODES,
    CHANNEL_MODES,
    LUMA_WEIGHTS,
    FloatImage,
    luminance,
    to_float,
    to_uint8,
)
from .exposure import (
    equalize_clahe,
    equalize_hist,
)
from .geometry import (
    crop,
    flip_lr,
    flip_ud,
    rotate,
)
from .kernels import (
    KERNEL_MAX_ABS,
    KERNEL_PRESETS,
    convolve_kernel,
    edges,
    resize_kernel,
    validate_kernel,
)
from .masks import (
    blank_rows,
    circular_mask,
)
from .noise import (
    add_salt_pepper_noise,
)
from .pipeline import (
    FORMAT_VERSION,
    GROUPS,
    MAX_JSON_CHARS,
    MAX_QUERY_CHARS,
    MAX_STEPS,
    PREVIEW_MAX_SIDE,
    QUERY_PARAM,
    STEPS,
    ParamSpec,
    Pipeline,
    Preview,
    Step,
    StepSpec,
    apply_preview,
    describe_steps,
    make_preview,
)

__all__ = [*convert.__all__, *blur.__all__, *kernels.__all__, *geometry.__all__, *masks.__all__, *exposure.__all__, *colour.__all__, *noise.__all__, *compare.__all__, *pipeline.__all__, *batch.__all__]
