"""Filters: single-image filters, the step registry and pipeline, and applying a pipeline to an archive.

Public verbs, by module:
- :mod:`core.filters.ops`: FloatImage, LUMA_WEIGHTS, BORDER_MODES, CHANNEL_MODES, KERNEL_PRESETS, KERNEL_MAX_ABS, CURVE_PRESETS, LOOKS, Look, to_float, to_uint8, luminance, gaussian_blur, uniform_blur, median_blur, edges, validate_kernel, convolve_kernel, crop, flip_ud, flip_lr, rotate, circular_mask, blank_rows, equalize_hist, equalize_clahe, grayscale, adjust_saturation, validate_curve_points, curve_lut, tone_curve, apply_look, add_salt_pepper_noise, absolute_difference, channel_histograms, psnr
- :mod:`core.filters.pipeline`: QUERY_PARAM, FORMAT_VERSION, MAX_STEPS, MAX_JSON_CHARS, MAX_QUERY_CHARS, PREVIEW_MAX_SIDE, ParamSpec, StepSpec, STEPS, GROUPS, describe_steps, Step, Pipeline, Preview, make_preview, apply_preview
- :mod:`core.filters.batch`: BATCH_LIMIT, FORMATS, BatchResult, encode_image, zip_name, apply_to_files, scratch_zip_path
"""

from . import ops, pipeline, batch
from .ops import (
    FloatImage,
    LUMA_WEIGHTS,
    BORDER_MODES,
    CHANNEL_MODES,
    KERNEL_PRESETS,
    KERNEL_MAX_ABS,
    CURVE_PRESETS,
    LOOKS,
    Look,
    to_float,
    to_uint8,
    luminance,
    gaussian_blur,
    uniform_blur,
    median_blur,
    edges,
    validate_kernel,
    convolve_kernel,
    crop,
    flip_ud,
    flip_lr,
    rotate,
    circular_mask,
    blank_rows,
    equalize_hist,
    equalize_clahe,
    grayscale,
    adjust_saturation,
    validate_curve_points,
    curve_lut,
    tone_curve,
    apply_look,
    add_salt_pepper_noise,
    absolute_difference,
    channel_histograms,
    psnr,
)
from .pipeline import (
    QUERY_PARAM,
    FORMAT_VERSION,
    MAX_STEPS,
    MAX_JSON_CHARS,
    MAX_QUERY_CHARS,
    PREVIEW_MAX_SIDE,
    ParamSpec,
    StepSpec,
    STEPS,
    GROUPS,
    describe_steps,
    Step,
    Pipeline,
    Preview,
    make_preview,
    apply_preview,
)
from .batch import (
    BATCH_LIMIT,
    FORMATS,
    BatchResult,
    encode_image,
    zip_name,
    apply_to_files,
    scratch_zip_path,
)

__all__ = [*ops.__all__, *pipeline.__all__, *batch.__all__]
