"""Filter pipelines: validated step specs, applied in order, shareable as JSON or a link.

A :class:`Pipeline` is an immutable, ordered list of :class:`Step` specs
(``name``, ``params``, ``enabled``). Every spec is checked when it is built
-- from code, a JSON file or a URL query parameter -- against the step
registry :data:`STEPS`, so a bad spec fails at the boundary with a message
naming the step and the parameter, never halfway through an image.

The registry describes every parameter (type, range, default, label, help,
widget), so a page can render sliders, select boxes, check boxes and kernel
grids generically::

    for step_spec in describe_steps():          # JSON-able dicts
        ...                                     # group, label, help, colour, params

Images go in as any dtype :func:`core.filters.convert.to_float` accepts; steps work
in float32 ``[0, 1]``; :meth:`Pipeline.render` and :func:`apply_preview`
return ``uint8`` ready for display -- ``(H, W)`` gray, ``(H, W, 3)`` RGB, or
``(H, W, 4)`` when an RGBA input's alpha is kept.

Large photos
    :func:`apply_preview` runs the pipeline on a copy whose longest side is
    at most ``max_side`` (1080 by default) and :meth:`Pipeline.render` on the
    full resolution for download. Parameters in pixels (marked ``spatial`` in
    the registry: blur sigma and sizes, median size, pixel crops, row stride)
    are given in *full-resolution* pixels and scaled down for the preview, so
    the preview looks like a shrunk copy of the download. Custom kernels and
    edge operators are 3x3/5x5 at whatever resolution they run.

Query-parameter encoding (:meth:`Pipeline.to_query`)
    ``"1z." + urlsafe_base64_nopad(raw_deflate(compact_json))``, or
    ``"1." + urlsafe_base64_nopad(compact_json)`` when that is shorter
    (short pipelines), where ``compact_json`` is a list of ``[name]``,
    ``[name, {non-default params}]`` or ``[name, {params}, 0]`` (a disabled
    step). The leading ``1`` is the format version. Only
    ``A-Z a-z 0-9 - _ .`` appear, so it needs no escaping; at most
    :data:`MAX_QUERY_CHARS` characters, and decoding refuses anything that
    inflates past :data:`MAX_JSON_CHARS`. Put it under :data:`QUERY_PARAM`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..image.geometry import fit_longest_side
from .blur import gaussian_blur, median_blur, uniform_blur
from .colour import CURVE_PRESETS, LOOKS, adjust_saturation, apply_look, grayscale, tone_curve, validate_curve_points
from .convert import BORDER_MODES, CHANNEL_MODES, FloatImage, to_float, to_uint8
from .exposure import equalize_clahe, equalize_hist
from .geometry import crop, flip_lr, flip_ud, rotate
from .kernels import KERNEL_MAX_ABS, KERNEL_PRESETS, convolve_kernel, edges, validate_kernel
from .masks import blank_rows, circular_mask
from .noise import add_salt_pepper_noise

__all__ = [
    "QUERY_PARAM",
    "FORMAT_VERSION",
    "MAX_STEPS",
    "MAX_JSON_CHARS",
    "MAX_QUERY_CHARS",
    "PREVIEW_MAX_SIDE",
    "ParamSpec",
    "StepSpec",
    "STEPS",
    "GROUPS",
    "describe_steps",
    "Step",
    "Pipeline",
    "Preview",
    "make_preview",
    "apply_preview",
]

#: Name of the URL query parameter a page should use for the pipeline.
QUERY_PARAM = "pipeline"
#: Version of the JSON and query formats.
FORMAT_VERSION = 1
#: Most steps a pipeline may hold.
MAX_STEPS = 32
#: Longest JSON text accepted by :meth:`Pipeline.from_json` (also the most a
#: query string may inflate to).
MAX_JSON_CHARS = 64_000
#: Longest query string produced or accepted (links stay well under the
#: ~8 KB most servers and browsers allow).
MAX_QUERY_CHARS = 2_000
#: Default longest side of a preview copy.
PREVIEW_MAX_SIDE = 1080

_QUERY_PREFIX = f"{FORMAT_VERSION}."  # base64 of the compact JSON
_QUERY_PREFIX_DEFLATE = f"{FORMAT_VERSION}z."  # base64 of its raw deflate stream
_QUERY_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_FORMAT_NAME = "feedlens-pipeline"

_WIDGETS = {
    "float": "slider",
    "int": "slider",
    "bool": "checkbox",
    "choice": "selectbox",
    "kernel": "data_editor",
    "points": "data_editor",
}


# --------------------------------------------------------------------------
# Parameter and step specs (the registry)
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class ParamSpec:
    """One parameter of a step: what it is and which values are allowed.

    Attributes
    ----------
    name : str
        Keyword used in ``Step.params``.
    type : {"float", "int", "bool", "choice", "kernel", "points"}
        ``kernel`` is a 3x3 or 5x5 list of lists of numbers; ``points`` a
        list of ``[x, y]`` tone-curve control points in ``[0, 1]``.
    default : Any
        Value used when the spec omits the parameter.
    label, help : str
        Short widget label and a one-sentence tooltip.
    min, max, step : float or None
        Inclusive range and slider step for ``float``/``int``.
    choices : tuple
        Allowed values for ``choice`` (may include ``None``).
    choice_labels : tuple of str
        Display text for each of ``choices``, same order.
    presets : dict or None
        Named starting values for ``kernel``/``points`` parameters.
    spatial : bool
        A length in full-resolution pixels, scaled for previews.
    odd : bool
        ``int`` values must be odd.
    widget : str
        Suggested Streamlit widget: ``slider``, ``number_input``,
        ``checkbox``, ``selectbox`` or ``data_editor``.
    """

    name: str
    type: str
    default: Any
    label: str
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[Any, ...] = ()
    choice_labels: tuple[str, ...] = ()
    presets: Mapping[str, Any] | None = None
    spatial: bool = False
    odd: bool = False
    widget: str = ""

    def __post_init__(self) -> None:
        if self.type not in _WIDGETS:
            raise ValueError(f"unknown parameter type {self.type!r}")
        if not self.widget:
            object.__setattr__(self, "widget", _WIDGETS[self.type])
        if self.choices and not self.choice_labels:
            object.__setattr__(self, "choice_labels", tuple(str(c) for c in self.choices))

    def validate(self, value: Any) -> Any:
        """Return ``value`` converted to this parameter's type, or raise ValueError.

        Examples
        --------
        >>> ParamSpec("size", "int", 3, "Size", min=3, max=15, odd=True).validate(5.0)
        5
        >>> ParamSpec("size", "int", 3, "Size", min=3, max=15, odd=True).validate(4)
        Traceback (most recent call last):
        ...
        ValueError: size=4 must be an odd number
        """
        t = self.type
        if t in ("float", "int"):
            if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise ValueError(f"{self.name} must be a number; got {value!r}")
            v = float(value)
            if not math.isfinite(v):
                raise ValueError(f"{self.name} must be a finite number; got {value!r}")
            if t == "int":
                if v != int(v):
                    raise ValueError(f"{self.name} must be a whole number; got {value!r}")
                v = int(v)
                if self.odd and v % 2 == 0:
                    raise ValueError(f"{self.name}={v} must be an odd number")
            if self.min is not None and v < self.min:
                raise ValueError(f"{self.name}={v:g} is below the minimum {self.min:g}")
            if self.max is not None and v > self.max:
                raise ValueError(f"{self.name}={v:g} is above the maximum {self.max:g}")
            return v
        if t == "bool":
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{self.name} must be true or false; got {value!r}")
            return bool(value)
        if t == "choice":
            for choice in self.choices:
                # True == 1 in Python; a bool only matches a bool choice
                if isinstance(choice, bool) == isinstance(value, bool) and choice == value:
                    return choice
            raise ValueError(f"{self.name} must be one of {list(self.choices)}; got {value!r}")
        if t == "kernel":
            k = validate_kernel(value)
            return tuple(tuple(float(x) for x in row) for row in k)
        # points
        p = validate_curve_points(value)
        return tuple((float(x), float(y)) for x, y in p)

    def to_dict(self) -> dict[str, Any]:
        """Describe this parameter as a JSON-able dict (for building widgets)."""
        return {
            "name": self.name,
            "type": self.type,
            "widget": self.widget,
            "label": self.label,
            "help": self.help,
            "default": _jsonable(self.default),
            "min": self.min,
            "max": self.max,
            "step": self.step,
            "choices": list(self.choices) if self.choices else None,
            "choice_labels": list(self.choice_labels) if self.choices else None,
            "presets": {k: _jsonable(v) for k, v in self.presets.items()} if self.presets else None,
            "spatial": self.spatial,
            "odd": self.odd,
        }


@dataclass(frozen=True)
class StepSpec:
    """A step the pipeline knows: its function, parameters and how it treats colour.

    Attributes
    ----------
    name : str
        Identifier used in specs, JSON and links.
    label, group, help : str
        Display name, menu group (see :data:`GROUPS`) and one-line help.
    colour : str
        How colour photos are handled, in words for the UI.
    params : tuple of ParamSpec
        Parameters, in display order.
    run : callable
        ``run(image, params) -> image`` (float32 in, float32 out).
    check : callable or None
        Extra checks across parameters; raises ValueError.
    changes_size : bool
        True for geometry steps (crop, rotate): a before/after difference
        view is then not possible.
    """

    name: str
    label: str
    group: str
    help: str
    colour: str
    params: tuple[ParamSpec, ...]
    run: Callable[[FloatImage, dict[str, Any]], FloatImage]
    check: Callable[[dict[str, Any]], None] | None = None
    changes_size: bool = False

    def param(self, name: str) -> ParamSpec:
        """Return the spec of parameter ``name`` (KeyError if unknown)."""
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def defaults(self) -> dict[str, Any]:
        """Default value of every parameter."""
        return {p.name: p.default for p in self.params}

    def to_dict(self) -> dict[str, Any]:
        """Describe this step as a JSON-able dict (for building a UI)."""
        return {
            "name": self.name,
            "label": self.label,
            "group": self.group,
            "help": self.help,
            "colour": self.colour,
            "changes_size": self.changes_size,
            "params": [p.to_dict() for p in self.params],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_jsonable(v) for v in value]
    return value


# -- parameter helpers -------------------------------------------------------

_COLOUR_PER_CHANNEL = "Per channel: R, G and B are filtered separately; alpha is kept."
_COLOUR_LUMA_OPTION = (
    "On luminance by default (the brightness is changed and the colours kept), "
    "or per channel (R, G, B separately: stronger, but shifts colours)."
)
_COLOUR_GEOMETRY = "All channels move together (alpha too)."


def _channel_mode(default: str = "luminance", help: str = "") -> ParamSpec:
    return ParamSpec(
        "channel_mode",
        "choice",
        default,
        "Colour handling",
        help or "Luminance keeps the colours; per channel treats R, G and B as three gray images.",
        choices=CHANNEL_MODES,
        choice_labels=("On luminance (keeps colours)", "Per channel (R, G, B separately)"),
    )


_BORDER_LABELS = {
    "reflect": "Reflect (d c b a | a b c d)",
    "mirror": "Mirror (d c b | a b c d)",
    "nearest": "Nearest (a a a | a b c d)",
    "wrap": "Wrap (a b c d | a b c d)",
    "constant": "Constant (cval)",
}


def _margin(name: str, label: str, default: float) -> ParamSpec:
    return ParamSpec(
        name, "float", default, label, f"Fraction of the {'height' if name in ('top', 'bottom') else 'width'} removed.",
        min=0.0, max=0.45, step=0.01,
    )


def _px_margin(name: str, label: str) -> ParamSpec:
    return ParamSpec(
        name, "int", 0, label, "Pixels removed (of the full-resolution photo).",
        min=0, max=20_000, step=1, spatial=True, widget="number_input",
    )


def _check_rows(p: dict[str, Any]) -> None:
    if p["start"] >= p["stop"]:
        raise ValueError(f"start ({p['start']:g}) must be below stop ({p['stop']:g})")


def _check_kernel(p: dict[str, Any]) -> None:
    validate_kernel(p["kernel"], normalise=p["normalise"])


def _specs() -> list[StepSpec]:
    return [
        # Blur and denoise
        StepSpec(
            "gaussian_blur", "Gaussian blur", "Blur and denoise",
            "Smooths with a Gaussian bell (scipy.ndimage.gaussian_filter).",
            _COLOUR_PER_CHANNEL,
            (ParamSpec("sigma", "float", 3.0, "Sigma (px)", "Width of the bell in pixels; 0 = off.",
                       min=0.0, max=50.0, step=0.5, spatial=True),),
            lambda img, p: gaussian_blur(img, p["sigma"]),
        ),
        StepSpec(
            "uniform_blur", "Uniform (mean) blur", "Blur and denoise",
            "Replaces each pixel by the mean of a square window (scipy.ndimage.uniform_filter).",
            _COLOUR_PER_CHANNEL,
            (ParamSpec("size", "int", 10, "Window size (px)", "Side of the square window.",
                       min=1, max=51, step=1, spatial=True),),
            lambda img, p: uniform_blur(img, p["size"]),
        ),
        StepSpec(
            "median_blur", "Median (denoise)", "Blur and denoise",
            "Replaces each pixel by the median of a square window: removes salt-and-pepper noise "
            "and keeps edges sharp.",
            _COLOUR_PER_CHANNEL,
            (ParamSpec("size", "int", 3, "Window size (px)", "Odd side of the square window.",
                       min=3, max=15, step=2, spatial=True, odd=True),),
            lambda img, p: median_blur(img, p["size"]),
        ),
        # Edges
        StepSpec(
            "edges", "Edges (Sobel / Prewitt)", "Edges",
            "Brightness gradient: bright where the image changes fast.",
            "On luminance by default (a gray edge map), or per channel (coloured edges).",
            (
                ParamSpec("operator", "choice", "sobel", "Operator", "Sobel weighs the centre row twice.",
                          choices=("sobel", "prewitt"), choice_labels=("Sobel", "Prewitt")),
                ParamSpec("axis", "choice", None, "Direction",
                          "Magnitude of the gradient, or the signed derivative along one axis (gray = 0).",
                          choices=(None, 0, 1),
                          choice_labels=("Magnitude", "Axis 0 (down: horizontal edges)",
                                         "Axis 1 (across: vertical edges)")),
                _channel_mode(help="Luminance gives one gray edge map; per channel colours the edges."),
                ParamSpec("rescale", "bool", True, "Stretch contrast",
                          "Make the strongest edge white; off divides by the largest possible gradient."),
            ),
            lambda img, p: edges(img, p["operator"], p["axis"], channel_mode=p["channel_mode"],
                                   rescale=p["rescale"]),
        ),
        # Custom kernel
        StepSpec(
            "convolve_kernel", "Custom kernel", "Custom kernel",
            "Convolves with a 3x3 or 5x5 kernel you edit (scipy.ndimage.convolve).",
            _COLOUR_PER_CHANNEL,
            (
                ParamSpec("kernel", "kernel", KERNEL_PRESETS["seed"], "Kernel",
                          f"3x3 or 5x5 numbers within +-{KERNEL_MAX_ABS:g}.",
                          presets=KERNEL_PRESETS),
                ParamSpec("normalise", "bool", False, "Normalise",
                          "Divide by the sum so flat areas keep their brightness (not for zero-sum kernels)."),
                ParamSpec("mode", "choice", "constant", "Border mode", "How the image is extended past its edge.",
                          choices=BORDER_MODES,
                          choice_labels=tuple(_BORDER_LABELS[m] for m in BORDER_MODES)),
                ParamSpec("cval", "float", 0.0, "cval", "Value outside the image for the constant mode.",
                          min=0.0, max=1.0, step=0.05),
            ),
            lambda img, p: convolve_kernel(img, p["kernel"], normalise=p["normalise"], mode=p["mode"],
                                             cval=p["cval"]),
            check=_check_kernel,
        ),
        # Geometry
        StepSpec(
            "crop", "Crop", "Geometry",
            "Cuts a margin off each side, as fractions of the size (0.25 each = the lecture's crop).",
            _COLOUR_GEOMETRY,
            (_margin("top", "Top", 0.25), _margin("bottom", "Bottom", 0.25),
             _margin("left", "Left", 0.25), _margin("right", "Right", 0.25)),
            lambda img, p: crop(img, p["top"], p["bottom"], p["left"], p["right"], unit="fraction"),
            changes_size=True,
        ),
        StepSpec(
            "crop_pixels", "Crop (pixels)", "Geometry",
            "Cuts an exact number of full-resolution pixels off each side.",
            _COLOUR_GEOMETRY,
            (_px_margin("top", "Top"), _px_margin("bottom", "Bottom"),
             _px_margin("left", "Left"), _px_margin("right", "Right")),
            lambda img, p: crop(img, p["top"], p["bottom"], p["left"], p["right"], unit="pixel"),
            changes_size=True,
        ),
        StepSpec("flip_ud", "Flip up-down", "Geometry", "Upside down (numpy.flipud).",
                 _COLOUR_GEOMETRY, (), lambda img, p: flip_ud(img)),
        StepSpec("flip_lr", "Flip left-right", "Geometry", "Mirror image (numpy.fliplr).",
                 _COLOUR_GEOMETRY, (), lambda img, p: flip_lr(img)),
        StepSpec(
            "rotate", "Rotate", "Geometry",
            "Rotates counter-clockwise (scipy.ndimage.rotate).",
            _COLOUR_GEOMETRY + " New corners are transparent for RGBA photos.",
            (
                ParamSpec("angle", "float", 45.0, "Angle (degrees)", "Counter-clockwise.",
                          min=-180.0, max=180.0, step=1.0),
                ParamSpec("reshape", "bool", True, "Grow canvas",
                          "On: the whole photo stays visible. Off: same size, corners cut off."),
                ParamSpec("order", "choice", 1, "Interpolation", "Nearest is fastest, cubic the smoothest.",
                          choices=(0, 1, 3), choice_labels=("Nearest", "Bilinear", "Cubic")),
                ParamSpec("cval", "float", 0.0, "Corner fill", "Gray level of the uncovered corners.",
                          min=0.0, max=1.0, step=0.05),
            ),
            lambda img, p: rotate(img, p["angle"], reshape=p["reshape"], order=p["order"], cval=p["cval"]),
            changes_size=True,
        ),
        # Masks
        StepSpec(
            "circular_mask", "Circular mask", "Masks",
            "Paints everything outside a centred circle (radius 1 = the lecture's mask).",
            "All colour channels get the fill value; alpha is kept.",
            (
                ParamSpec("radius", "float", 1.0, "Radius", "Relative to half the (geometric mean) image size.",
                          min=0.1, max=1.5, step=0.05),
                ParamSpec("fill", "float", 0.0, "Fill", "0 = black, 1 = white.", min=0.0, max=1.0, step=0.05),
                ParamSpec("invert", "bool", False, "Invert", "Paint the inside of the circle instead."),
            ),
            lambda img, p: circular_mask(img, p["radius"], fill=p["fill"], invert=p["invert"]),
        ),
        StepSpec(
            "blank_rows", "Blank rows", "Masks",
            "Paints a band of rows (the lecture's face[50:150] = 255 is about 0.065-0.195 of its height).",
            "All colour channels get the value; alpha is kept.",
            (
                ParamSpec("start", "float", 0.065, "From", "First row, as a fraction of the height.",
                          min=0.0, max=1.0, step=0.005),
                ParamSpec("stop", "float", 0.195, "To", "End row (excluded), as a fraction of the height.",
                          min=0.0, max=1.0, step=0.005),
                ParamSpec("step", "int", 1, "Every n-th row (px)", "1 paints every row of the band.",
                          min=1, max=32, step=1, spatial=True),
                ParamSpec("value", "float", 1.0, "Value", "0 = black, 1 = white.", min=0.0, max=1.0, step=0.05),
            ),
            lambda img, p: blank_rows(img, p["start"], p["stop"], p["step"], value=p["value"], unit="fraction"),
            check=_check_rows,
        ),
        # Contrast
        StepSpec(
            "equalize_hist", "Equalise histogram", "Contrast",
            "Spreads the brightness levels evenly (skimage.exposure.equalize_hist).",
            _COLOUR_LUMA_OPTION,
            (_channel_mode(),),
            lambda img, p: equalize_hist(img, channel_mode=p["channel_mode"]),
        ),
        StepSpec(
            "equalize_clahe", "CLAHE (adaptive)", "Contrast",
            "Equalises tile by tile with a contrast limit (skimage.exposure.equalize_adapthist).",
            _COLOUR_LUMA_OPTION,
            (
                ParamSpec("clip_limit", "float", 0.01, "Clip limit", "Higher gives more local contrast.",
                          min=0.001, max=0.1, step=0.001),
                ParamSpec("tiles", "int", 8, "Tiles per side", "The image is split into tiles x tiles regions.",
                          min=2, max=16, step=1),
                _channel_mode(),
            ),
            lambda img, p: equalize_clahe(img, p["clip_limit"], tiles=p["tiles"], channel_mode=p["channel_mode"]),
        ),
        # Colour and looks
        StepSpec(
            "grayscale", "Grayscale", "Colour and looks",
            "Keeps only the luminance (skimage.color.rgb2gray weights).",
            "Colour becomes gray; alpha is kept.",
            (), lambda img, p: grayscale(img),
        ),
        StepSpec(
            "adjust_saturation", "Saturation", "Colour and looks",
            "More or less colourful at the same brightness.",
            "Blends each pixel with its own luminance; gray photos are unchanged.",
            (ParamSpec("factor", "float", 1.3, "Saturation", "0 = gray, 1 = unchanged, 2 = double.",
                       min=0.0, max=3.0, step=0.05),),
            lambda img, p: adjust_saturation(img, p["factor"]),
        ),
        StepSpec(
            "tone_curve", "Tone curve", "Colour and looks",
            "Remaps brightness through a curve through your control points.",
            "All of R, G, B, one of them (colour casts), or the luminance (colours kept).",
            (
                ParamSpec("points", "points", CURVE_PRESETS["s_curve"], "Curve points",
                          "Pairs (input, output) in [0, 1], inputs increasing; 2 to 16 points.",
                          presets=CURVE_PRESETS),
                ParamSpec("channel", "choice", "rgb", "Channel", "Which values the curve changes.",
                          choices=("rgb", "red", "green", "blue", "luminance"),
                          choice_labels=("R, G and B", "Red", "Green", "Blue", "Luminance (keeps colours)")),
                ParamSpec("smooth", "bool", True, "Smooth", "Smooth curve (monotone cubic) or straight segments."),
            ),
            lambda img, p: tone_curve(img, p["points"], channel=p["channel"], smooth=p["smooth"]),
        ),
        StepSpec(
            "look", "Look", "Colour and looks",
            "A named Instagram-style look built from tone curves, saturation and grayscale.",
            "Curves per channel and saturation on colour photos; alpha is kept.",
            (
                ParamSpec("look", "choice", "clarendon", "Look", "; ".join(
                    f"{v.label}: {v.description}" for v in LOOKS.values()),
                    choices=tuple(LOOKS), choice_labels=tuple(v.label for v in LOOKS.values())),
                ParamSpec("strength", "float", 1.0, "Strength", "0 = original, 1 = full look.",
                          min=0.0, max=1.0, step=0.05),
            ),
            lambda img, p: apply_look(img, p["look"], p["strength"]),
        ),
        # Noise
        StepSpec(
            "salt_pepper_noise", "Salt-and-pepper noise", "Noise",
            "Sets random values to black or white, to try the median filter on.",
            "Each colour value is hit independently; alpha is kept.",
            (
                ParamSpec("amount", "float", 0.05, "Amount", "Fraction of values replaced.",
                          min=0.0, max=0.5, step=0.01),
                ParamSpec("salt_vs_pepper", "float", 0.5, "Salt share", "Fraction of the replaced values set to white.",
                          min=0.0, max=1.0, step=0.05),
                ParamSpec("seed", "int", 0, "Random seed", "Same seed, same noise.",
                          min=0, max=2**31 - 1, step=1, widget="number_input"),
            ),
            lambda img, p: add_salt_pepper_noise(img, p["amount"], salt_vs_pepper=p["salt_vs_pepper"],
                                                   random_state=p["seed"]),
        ),
    ]


#: Every step the pipeline knows, by name, in menu order.
STEPS: dict[str, StepSpec] = {s.name: s for s in _specs()}
#: Menu groups in display order.
GROUPS: tuple[str, ...] = tuple(dict.fromkeys(s.group for s in STEPS.values()))


def describe_steps() -> list[dict[str, Any]]:
    """The step registry as JSON-able dicts, for building a UI generically.

    Returns
    -------
    list of dict
        One per step, in menu order: ``name``, ``label``, ``group``,
        ``help``, ``colour`` (how colour photos are handled),
        ``changes_size`` and ``params``: a list of dicts with ``name``,
        ``type`` (float/int/bool/choice/kernel/points), ``widget``,
        ``label``, ``help``, ``default``, ``min``, ``max``, ``step``,
        ``choices``, ``choice_labels``, ``presets``, ``spatial``, ``odd``.

    Examples
    --------
    >>> d = {s["name"]: s for s in describe_steps()}
    >>> d["gaussian_blur"]["params"][0]["name"], d["gaussian_blur"]["params"][0]["max"]
    ('sigma', 50.0)
    """
    return [s.to_dict() for s in STEPS.values()]


def _spec(name: Any) -> StepSpec:
    if not isinstance(name, str) or name not in STEPS:
        raise ValueError(f"unknown step {name!r}; known steps: {', '.join(STEPS)}")
    return STEPS[name]


# --------------------------------------------------------------------------
# Step and Pipeline
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Step:
    """One step of a pipeline: a registry name, its parameters, on or off.

    Building a Step validates it: unknown names or parameters and values of
    the wrong type or out of range raise ValueError. Missing parameters get
    their defaults, so ``params`` always holds every parameter. Treat
    ``params`` as read-only; use :meth:`with_params` to change it.

    Examples
    --------
    >>> Step("median_blur", {"size": 5}).params
    {'size': 5}
    >>> Step("median_blur", {"size": 99})
    Traceback (most recent call last):
    ...
    ValueError: median_blur: size=99 is above the maximum 15
    """

    name: str
    params: Mapping[str, Any] = field(default_factory=dict)
    enabled: bool = True

    def __post_init__(self) -> None:
        spec = _spec(self.name)
        if not isinstance(self.params, Mapping):
            raise ValueError(f"{self.name}: params must be a mapping of name to value")
        if not isinstance(self.enabled, (bool, np.bool_)):
            raise ValueError(f"{self.name}: enabled must be true or false; got {self.enabled!r}")
        known = {p.name for p in spec.params}
        unknown = sorted(str(k) for k in self.params if k not in known)
        if unknown:
            allowed = ", ".join(sorted(known)) or "none"
            raise ValueError(f"{self.name}: unknown parameter(s) {', '.join(unknown)}; allowed: {allowed}")
        clean: dict[str, Any] = {}
        try:
            for p in spec.params:
                clean[p.name] = p.validate(self.params[p.name]) if p.name in self.params else p.default
            if spec.check is not None:
                spec.check(clean)
        except ValueError as err:
            raise ValueError(f"{self.name}: {err}") from None
        object.__setattr__(self, "params", clean)
        object.__setattr__(self, "enabled", bool(self.enabled))

    def __hash__(self) -> int:  # params is a dict; hash its canonical JSON
        return hash((self.name, json.dumps(self.to_dict()["params"], sort_keys=True), self.enabled))

    @property
    def spec(self) -> StepSpec:
        """The registry entry of this step."""
        return STEPS[self.name]

    def with_params(self, **params: Any) -> Step:
        """Return a copy with some parameters changed (validated)."""
        return Step(self.name, {**self.params, **params}, self.enabled)

    def with_enabled(self, enabled: bool) -> Step:
        """Return a copy switched on or off."""
        return Step(self.name, self.params, enabled)

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "params", "enabled"}`` with JSON-able values."""
        return {"name": self.name, "params": {k: _jsonable(v) for k, v in self.params.items()},
                "enabled": self.enabled}

    def to_compact(self) -> list[Any]:
        """``[name]``, ``[name, params]`` or ``[name, params, 0]``, non-default params only."""
        defaults = self.spec.defaults()
        changed = {k: _jsonable(v) for k, v in self.params.items() if v != defaults[k]}
        row: list[Any] = [self.name]
        if changed or not self.enabled:
            row.append(changed)
        if not self.enabled:
            row.append(0)
        return row

    @classmethod
    def from_dict(cls, data: Any) -> Step:
        """Build from ``{"name", "params"?, "enabled"?}`` (validated)."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a step must be an object with a name; got {type(data).__name__}")
        extra = set(data) - {"name", "params", "enabled"}
        if extra:
            raise ValueError(f"unexpected step field(s): {', '.join(sorted(map(str, extra)))}")
        if "name" not in data:
            raise ValueError("a step needs a name")
        return cls(data["name"], data.get("params", {}) or {}, data.get("enabled", True))

    @classmethod
    def from_compact(cls, row: Any) -> Step:
        """Inverse of :meth:`to_compact`."""
        if not isinstance(row, list) or not 1 <= len(row) <= 3:
            raise ValueError("a compact step must be [name], [name, params] or [name, params, 0]")
        params = row[1] if len(row) > 1 else {}
        if len(row) == 3 and (isinstance(row[2], bool) or row[2] not in (0, 1)):
            raise ValueError("the third item of a compact step must be 0 (off) or 1 (on)")
        return cls(row[0], params, bool(row[2]) if len(row) == 3 else True)

    def apply(self, image: ArrayLike, *, spatial_scale: float = 1.0) -> FloatImage:
        """Run this step on an image (even if disabled); float32 ``[0, 1]`` out.

        ``spatial_scale`` multiplies the pixel-sized parameters (a preview at
        a quarter of the resolution uses 0.25).
        """
        params = _scaled(self.spec, self.params, spatial_scale)
        return self.spec.run(to_float(image), params)


def _scaled(spec: StepSpec, params: Mapping[str, Any], scale: float) -> dict[str, Any]:
    """Scale the spatial parameters by ``scale`` (may go below the UI minimum)."""
    out = dict(params)
    if scale == 1.0:
        return out
    for p in spec.params:
        if not p.spatial:
            continue
        v = out[p.name] * scale
        if p.type == "float":
            out[p.name] = v
        elif p.odd:
            out[p.name] = max(1, 2 * int(round((v - 1) / 2)) + 1)
        else:
            out[p.name] = max(1 if (p.min or 0) >= 1 else 0, int(round(v)))
    return out


def _coerce_steps(steps: Iterable[Any]) -> tuple[Step, ...]:
    out = []
    for i, s in enumerate(steps):
        try:
            out.append(s if isinstance(s, Step) else Step.from_dict(s))
        except ValueError as err:
            raise ValueError(f"step {i + 1}: {err}") from None
    return tuple(out)


@dataclass(frozen=True)
class Pipeline:
    """An ordered, validated list of steps; immutable (edits return a new one).

    Parameters
    ----------
    steps : sequence of Step or dict
        Dicts are read with :meth:`Step.from_dict`. At most
        :data:`MAX_STEPS`.

    Examples
    --------
    >>> p = Pipeline([Step("flip_lr"), Step("gaussian_blur", {"sigma": 1.0})])
    >>> Pipeline.from_query(p.to_query()) == p
    True
    >>> p.render(np.zeros((4, 6, 3), dtype=np.uint8)).shape
    (4, 6, 3)
    """

    steps: tuple[Step, ...] = ()

    def __post_init__(self) -> None:
        if isinstance(self.steps, (str, bytes, Mapping)):
            raise ValueError("steps must be a list of steps")
        steps = _coerce_steps(self.steps)
        if len(steps) > MAX_STEPS:
            raise ValueError(f"a pipeline holds at most {MAX_STEPS} steps; got {len(steps)}")
        object.__setattr__(self, "steps", steps)

    def __len__(self) -> int:
        return len(self.steps)

    def __iter__(self):
        return iter(self.steps)

    def __getitem__(self, index: int) -> Step:
        return self.steps[index]

    # -- editing (each returns a new Pipeline) --------------------------------

    def append(self, name: str, params: Mapping[str, Any] | None = None, enabled: bool = True) -> Pipeline:
        """Add a step at the end (defaults for missing params)."""
        return Pipeline(self.steps + (Step(name, params or {}, enabled),))

    def insert(self, index: int, step: Step) -> Pipeline:
        """Insert a step before position ``index``."""
        steps = list(self.steps)
        steps.insert(index, step)
        return Pipeline(steps)

    def remove(self, index: int) -> Pipeline:
        """Delete the step at ``index``."""
        self._check_index(index)
        return Pipeline(self.steps[:index] + self.steps[index + 1 :])

    def move(self, index: int, new_index: int) -> Pipeline:
        """Move the step at ``index`` to ``new_index`` (clamped to the ends)."""
        self._check_index(index)
        steps = list(self.steps)
        step = steps.pop(index)
        steps.insert(max(0, min(new_index, len(steps))), step)
        return Pipeline(steps)

    def set_enabled(self, index: int, enabled: bool) -> Pipeline:
        """Switch the step at ``index`` on or off."""
        return self.replace(index, self[index].with_enabled(enabled))

    def set_params(self, index: int, **params: Any) -> Pipeline:
        """Change some parameters of the step at ``index`` (validated)."""
        self._check_index(index)
        try:
            return self.replace(index, self[index].with_params(**params))
        except ValueError as err:
            raise ValueError(f"step {index + 1}: {err}") from None

    def replace(self, index: int, step: Step) -> Pipeline:
        """Put ``step`` at position ``index``."""
        self._check_index(index)
        steps = list(self.steps)
        steps[index] = step
        return Pipeline(steps)

    def _check_index(self, index: int) -> None:
        if not -len(self.steps) <= index < len(self.steps):
            raise IndexError(f"no step {index} in a pipeline of {len(self.steps)}")

    # -- running ----------------------------------------------------------------

    def apply(self, image: ArrayLike, *, spatial_scale: float = 1.0, stop: int | None = None) -> FloatImage:
        """Run the enabled steps in order.

        Parameters
        ----------
        image : array_like
            Gray, RGB or RGBA, any dtype :func:`core.filters.convert.to_float` takes.
        spatial_scale : float
            Factor for pixel-sized parameters (the preview's scale).
        stop : int, optional
            Run only the first ``stop`` steps (to show an intermediate result).

        Returns
        -------
        ndarray of float32
            Values in ``[0, 1]``; shape may change (crop, rotate, grayscale).

        Raises
        ------
        ValueError
            A step cannot run on this image (a pixel crop larger than the
            photo); the message names the step.
        """
        if not (math.isfinite(spatial_scale) and spatial_scale > 0):
            raise ValueError(f"spatial_scale must be > 0; got {spatial_scale}")
        img = to_float(image)
        for i, step in enumerate(self.steps[:stop]):
            if not step.enabled:
                continue
            try:
                img = step.apply(img, spatial_scale=spatial_scale)
            except ValueError as err:
                raise ValueError(f"step {i + 1} ({step.spec.label}): {err}") from None
        return img

    def render(self, image: ArrayLike) -> NDArray[np.uint8]:
        """Run on the full resolution and return ``uint8`` for display or download."""
        return to_uint8(self.apply(image))

    def preview(self, image: ArrayLike, max_side: int = PREVIEW_MAX_SIDE) -> Preview:
        """Shortcut for :func:`apply_preview`."""
        return apply_preview(self, image, max_side)

    @property
    def changes_size(self) -> bool:
        """True if an enabled step may change the image size (no difference view)."""
        return any(s.enabled and s.spec.changes_size for s in self.steps)

    # -- serialisation ----------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """``{"format", "version", "steps": [{"name", "params", "enabled"}, ...]}``."""
        return {"format": _FORMAT_NAME, "version": FORMAT_VERSION, "steps": [s.to_dict() for s in self.steps]}

    @classmethod
    def from_dict(cls, data: Any) -> Pipeline:
        """Build from :meth:`to_dict` output (or a bare list of steps), validated."""
        if isinstance(data, list):
            return cls(data)
        if not isinstance(data, Mapping) or "steps" not in data:
            raise ValueError("a pipeline must be an object with a 'steps' list")
        version = data.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
            raise ValueError(f"unsupported pipeline version {version!r} (this app reads {FORMAT_VERSION})")
        if data.get("format", _FORMAT_NAME) != _FORMAT_NAME:
            raise ValueError(f"not a pipeline file (format {data.get('format')!r})")
        if not isinstance(data["steps"], list):
            raise ValueError("'steps' must be a list")
        return cls(data["steps"])

    def to_json(self, indent: int | None = 2) -> str:
        """Serialise to JSON text (every parameter written out)."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Pipeline:
        """Parse and validate JSON text from :meth:`to_json` (at most :data:`MAX_JSON_CHARS`)."""
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("the pipeline file is not UTF-8 text") from None
        if not isinstance(text, str):
            raise ValueError("pipeline JSON must be text")
        if len(text) > MAX_JSON_CHARS:
            raise ValueError(f"pipeline JSON is too long ({len(text)} characters; limit {MAX_JSON_CHARS})")
        return cls.from_dict(_loads(text))

    def to_query(self) -> str:
        """Encode as a short URL-safe string for :data:`QUERY_PARAM`.

        Raises
        ------
        ValueError
            If the encoding exceeds :data:`MAX_QUERY_CHARS` (save as JSON
            instead).
        """
        raw = json.dumps([s.to_compact() for s in self.steps], separators=(",", ":"), allow_nan=False).encode()
        packer = zlib.compressobj(9, zlib.DEFLATED, -15)
        packed = packer.compress(raw) + packer.flush()
        if len(packed) < len(raw):
            text = _QUERY_PREFIX_DEFLATE + _b64(packed)
        else:  # short pipelines: plain JSON is shorter than its deflate stream
            text = _QUERY_PREFIX + _b64(raw)
        if len(text) > MAX_QUERY_CHARS:
            raise ValueError(
                f"this pipeline is too long for a link ({len(text)} characters; limit "
                f"{MAX_QUERY_CHARS}); save it as a JSON file instead"
            )
        return text

    @classmethod
    def from_query(cls, text: str) -> Pipeline:
        """Decode and validate a string made by :meth:`to_query`."""
        if not isinstance(text, str):
            raise ValueError("the pipeline link parameter must be text")
        text = text.strip()
        if len(text) > MAX_QUERY_CHARS:
            raise ValueError(f"the pipeline link is too long ({len(text)} characters; limit {MAX_QUERY_CHARS})")
        deflated = text.startswith(_QUERY_PREFIX_DEFLATE)
        if not (deflated or text.startswith(_QUERY_PREFIX)):
            raise ValueError(
                f"the pipeline link is not in a known format (expected it to start with "
                f"{_QUERY_PREFIX!r} or {_QUERY_PREFIX_DEFLATE!r})"
            )
        body = text[len(_QUERY_PREFIX_DEFLATE if deflated else _QUERY_PREFIX) :]
        if not _QUERY_RE.match(body):
            raise ValueError("the pipeline link contains characters that are not URL-safe base64")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if deflated:
                unpacker = zlib.decompressobj(-15)
                raw = unpacker.decompress(raw, MAX_JSON_CHARS + 1)
                if len(raw) > MAX_JSON_CHARS or unpacker.unconsumed_tail:
                    raise ValueError("the pipeline link expands to too much data")
                if not unpacker.eof:
                    raise ValueError("the pipeline link is truncated")
            rows = _loads(raw.decode("utf-8"))
        except (binascii.Error, zlib.error, UnicodeDecodeError):
            raise ValueError("the pipeline link is damaged (cannot be decoded)") from None
        if not isinstance(rows, list):
            raise ValueError("the pipeline link does not hold a list of steps")
        steps = []
        for i, row in enumerate(rows):
            try:
                steps.append(Step.from_compact(row))
            except ValueError as err:
                raise ValueError(f"step {i + 1}: {err}") from None
        return cls(steps)

    @classmethod
    def parse(cls, text: str | bytes) -> Pipeline:
        """Read a pipeline in any form a user may hand over, validated.

        Accepts the JSON of :meth:`to_json` (or a bare list of steps), the
        value of :meth:`to_query`, or a whole share link or query string
        holding it under :data:`QUERY_PARAM` (``...?pipeline=1z.…``), so a
        command line can take whatever the user copied.

        Raises
        ------
        ValueError
            Not a pipeline in any of these forms; the message says why.

        Examples
        --------
        >>> p = Pipeline([Step("flip_lr")])
        >>> Pipeline.parse(p.to_json()) == Pipeline.parse(p.to_query()) == p
        True
        >>> Pipeline.parse("https://example.org/filters?archive=demo&pipeline=" + p.to_query()) == p
        True
        """
        if isinstance(text, bytes):
            try:
                text = text.decode("utf-8")
            except UnicodeDecodeError:
                raise ValueError("the pipeline is not UTF-8 text") from None
        if not isinstance(text, str):
            raise ValueError("a pipeline must be given as text")
        text = text.strip()
        if text[:1] in ("{", "["):
            return cls.from_json(text)
        if "=" in text:  # a link or a query string: take its pipeline parameter
            values = parse_qs(urlsplit(text).query if "?" in text else text).get(QUERY_PARAM)
            if not values:
                raise ValueError(f"the link holds no {QUERY_PARAM}= parameter")
            text = values[-1]
        return cls.from_query(text)

    @property
    def key(self) -> str:
        """Canonical compact JSON, usable as a cache key."""
        return json.dumps(self.to_dict()["steps"], separators=(",", ":"), sort_keys=True)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a pipeline")


def _loads(text: str) -> Any:
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise ValueError(f"not valid JSON: {err.msg} (line {err.lineno}, column {err.colno})") from None


# --------------------------------------------------------------------------
# Previews
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Preview:
    """Before and after images at preview size, ``uint8``.

    Attributes
    ----------
    before, after : ndarray of uint8
        The preview-sized input and the pipeline's result on it.
    scale : float
        Preview size / full size (1.0 when no reduction was needed).
    full_shape : tuple of int
        ``(height, width)`` of the full-resolution input.
    """

    before: NDArray[np.uint8]
    after: NDArray[np.uint8]
    scale: float
    full_shape: tuple[int, int]


def make_preview(image: ArrayLike, max_side: int = PREVIEW_MAX_SIDE) -> tuple[FloatImage, float]:
    """Shrink an image so its longest side is at most ``max_side``.

    Area averaging, by :func:`core.image.geometry.fit_longest_side`: 8- and
    16-bit photos are shrunk in their own dtype (no full-size float copy of
    a 12 MP photo), anything else as float32.

    Parameters
    ----------
    image : array_like
        Any image :func:`core.filters.convert.to_float` accepts.
    max_side : int
        Longest side of the preview, ``>= 16``.

    Returns
    -------
    preview : ndarray of float32
        In ``[0, 1]``; the input itself (as float) when already small enough.
    scale : float
        Preview longest side / original longest side.

    Examples
    --------
    >>> small, scale = make_preview(np.zeros((4000, 3000, 3), dtype=np.uint8), 1000)
    >>> small.shape, scale
    ((1000, 750, 3), 0.25)
    """
    max_side = int(max_side)
    if max_side < 16:
        raise ValueError("max_side must be >= 16")
    arr = np.asarray(image)
    longest = max(arr.shape[:2])
    if longest <= max_side:
        return to_float(arr), 1.0
    if arr.dtype not in (np.uint8, np.uint16) or arr.ndim not in (2, 3):
        arr = to_float(arr)
    small = np.clip(to_float(fit_longest_side(arr, max_side, resample="area")), 0.0, 1.0).astype(np.float32, copy=False)
    return small, max(small.shape[:2]) / longest


def apply_preview(
    pipeline: Pipeline | Sequence[Step | Mapping[str, Any]],
    image: ArrayLike,
    max_side: int = PREVIEW_MAX_SIDE,
) -> Preview:
    """Run a pipeline on a preview-sized copy of ``image``.

    Use this for the live before/after view and :meth:`Pipeline.render` on
    the full image for a download. Pixel-sized parameters are scaled by the
    preview factor (see the module notes). A page that re-runs on every
    slider move can cache :func:`make_preview` per photo and call
    ``pipeline.apply(small, spatial_scale=scale)`` itself.

    Parameters
    ----------
    pipeline : Pipeline or sequence of steps
        What to run.
    image : array_like
        The full-resolution photo.
    max_side : int
        Longest side of the preview.

    Returns
    -------
    Preview

    Examples
    --------
    >>> pv = apply_preview([Step("flip_ud")], np.zeros((3000, 2000), dtype=np.uint8), 600)
    >>> pv.after.shape, pv.after.dtype.name, pv.scale
    ((600, 400), 'uint8', 0.2)
    """
    pipe = pipeline if isinstance(pipeline, Pipeline) else Pipeline(list(pipeline))
    shape = np.shape(image)
    small, scale = make_preview(image, max_side)
    after = pipe.apply(small, spatial_scale=scale)
    return Preview(to_uint8(small), to_uint8(after), scale, (int(shape[0]), int(shape[1])))
