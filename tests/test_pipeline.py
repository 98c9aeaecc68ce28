"""Tests for core.filters.pipeline: the step registry, validation at the boundary,
running steps in order, JSON and query-string round trips, previews."""

from __future__ import annotations

import base64
import doctest
import json
import sys
import zlib

import numpy as np
import pytest
from skimage import data

import core.filters as F
from core.filters import pipeline as P
from core.filters.pipeline import Pipeline, Step


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A 128x96 uint8 RGB crop of the astronaut (non-square)."""
    return data.astronaut()[100:228:1, 150:246]


@pytest.fixture(scope="module")
def sample() -> Pipeline:
    return Pipeline(
        [
            Step("gaussian_blur", {"sigma": 1.5}),
            Step("median_blur", {"size": 5}, enabled=False),
            Step("convolve_kernel", {"kernel": F.KERNEL_PRESETS["gaussian5"], "normalise": True, "mode": "wrap"}),
            Step("edges", {"operator": "prewitt", "axis": 1, "channel_mode": "per_channel"}),
            Step("tone_curve", {"points": [[0, 0.1], [0.5, 0.6], [1, 0.9]], "channel": "blue"}),
            Step("look", {"look": "gingham", "strength": 0.7}),
            Step("crop", {"top": 0.1, "left": 0.05}),
            Step("rotate", {"angle": -30.5, "reshape": False, "order": 3}),
        ]
    )


# --------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------

SEED_STEPS = {
    "gaussian_blur", "uniform_blur", "median_blur", "edges", "convolve_kernel", "crop", "flip_ud",
    "flip_lr", "rotate", "circular_mask", "blank_rows", "equalize_hist", "equalize_clahe",
    "grayscale", "adjust_saturation", "tone_curve", "look",
}  # fmt: skip


def test_registry_covers_every_step_of_the_issue():
    assert SEED_STEPS <= set(P.STEPS)


def test_describe_steps_is_json_and_complete():
    desc = P.describe_steps()
    text = json.dumps(desc)  # JSON-able as is
    assert json.loads(text) == desc
    assert [d["name"] for d in desc] == list(P.STEPS)
    for step in desc:
        assert step["label"] and step["help"] and step["colour"] and step["group"] in P.GROUPS
        for p in step["params"]:
            assert p["label"] and p["help"], (step["name"], p["name"])
            assert p["type"] in {"float", "int", "bool", "choice", "kernel", "points"}
            assert p["widget"] in {"slider", "number_input", "checkbox", "selectbox", "data_editor"}
            if p["type"] in ("float", "int"):
                assert p["min"] <= p["default"] <= p["max"] and p["step"] > 0
            if p["type"] == "choice":
                assert p["default"] in p["choices"] and len(p["choice_labels"]) == len(p["choices"])
            if p["type"] in ("kernel", "points"):
                assert p["presets"]


def test_colour_handling_is_an_option_where_both_make_sense():
    for name in ("equalize_hist", "equalize_clahe", "edges"):
        spec = P.STEPS[name].param("channel_mode")
        assert spec.default == "luminance" and set(spec.choices) == {"luminance", "per_channel"}


def test_registry_defaults_reproduce_the_lecture():
    assert P.STEPS["convolve_kernel"].defaults()["kernel"] == F.KERNEL_PRESETS["seed"]
    assert P.STEPS["convolve_kernel"].defaults()["mode"] == "constant"
    assert P.STEPS["crop"].defaults() == {"top": 0.25, "bottom": 0.25, "left": 0.25, "right": 0.25}
    assert P.STEPS["rotate"].defaults()["angle"] == 45 and P.STEPS["rotate"].defaults()["reshape"] is True
    assert P.STEPS["uniform_blur"].defaults()["size"] == 10


@pytest.mark.parametrize("name", list(P.STEPS))
@pytest.mark.parametrize("layout", ["gray", "rgb", "rgba", "uint16"])
def test_every_step_runs_with_defaults(name, layout, photo):
    img = {
        "gray": photo[..., 0],
        "rgb": photo,
        "rgba": np.dstack([photo, np.full(photo.shape[:2], 200, np.uint8)]),
        "uint16": photo.astype(np.uint16) * 257,
    }[layout]
    out = Step(name).apply(img)
    assert out.dtype == np.float32 and out.ndim in (2, 3)
    assert 0.0 <= out.min() and out.max() <= 1.0
    if layout == "rgba":
        assert out.shape[2] == 4
        if not P.STEPS[name].changes_size:
            assert np.allclose(out[..., 3], 200 / 255)
    if not P.STEPS[name].changes_size:
        assert out.shape[:2] == img.shape[:2]


# --------------------------------------------------------------------------
# validation at the boundary
# --------------------------------------------------------------------------


def test_step_fills_defaults_and_coerces():
    s = Step("median_blur", {"size": 5.0})
    assert s.params == {"size": 5} and isinstance(s.params["size"], int)
    assert Step("gaussian_blur").params == {"sigma": 3.0}
    k = Step("convolve_kernel", {"kernel": [[0, 0, 0], [0, 1, 0], [0, 0, 0]]}).params["kernel"]
    assert k == ((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 0.0))


@pytest.mark.parametrize(
    "name, params, message",
    [
        ("sharpen_more", {}, "unknown step 'sharpen_more'"),
        (42, {}, "unknown step"),
        ("gaussian_blur", {"radius": 2}, "unknown parameter"),
        ("gaussian_blur", {"sigma": 80}, "above the maximum 50"),
        ("gaussian_blur", {"sigma": -1}, "below the minimum 0"),
        ("gaussian_blur", {"sigma": "5"}, "must be a number"),
        ("gaussian_blur", {"sigma": True}, "must be a number"),
        ("gaussian_blur", {"sigma": float("nan")}, "finite"),
        ("median_blur", {"size": 4}, "odd"),
        ("median_blur", {"size": 17}, "above the maximum"),
        ("median_blur", {"size": 3.5}, "whole number"),
        ("edges", {"operator": "canny"}, "must be one of"),
        ("edges", {"axis": 2}, "must be one of"),
        ("edges", {"axis": True}, "must be one of"),
        ("edges", {"channel_mode": "hsv"}, "must be one of"),
        ("rotate", {"reshape": "yes"}, "true or false"),
        ("convolve_kernel", {"kernel": np.ones((7, 7)).tolist()}, "3x3 or 5x5"),
        ("convolve_kernel", {"kernel": [[1, 1], [1, 1]]}, "3x3 or 5x5"),
        ("convolve_kernel", {"kernel": [[0] * 3] * 3, "normalise": True}, "sums to zero"),
        ("convolve_kernel", {"kernel": [[1e9] * 3] * 3}, "within"),
        ("convolve_kernel", {"mode": "bogus"}, "must be one of"),
        ("convolve_kernel", {"cval": 1.5}, "above the maximum"),
        ("tone_curve", {"points": [[0, 0], [0, 1]]}, "strictly increasing"),
        ("tone_curve", {"points": [[0, 0]]}, "2 to 16"),
        ("blank_rows", {"start": 0.5, "stop": 0.2}, "must be below stop"),
        ("look", {"look": "valencia"}, "must be one of"),
        ("crop", {"top": 0.6}, "above the maximum"),
    ],
)
def test_invalid_specs_are_rejected(name, params, message):
    with pytest.raises(ValueError, match=message):
        Step(name, params)


def test_kernel_error_names_the_step():
    with pytest.raises(ValueError, match=r"^step 2: convolve_kernel: the kernel sums to zero"):
        Pipeline(
            [{"name": "flip_ud"}, {"name": "convolve_kernel", "params": {"kernel": [[0] * 3] * 3, "normalise": True}}]
        )


def test_pipeline_rejects_malformed_specs():
    with pytest.raises(ValueError, match="at most"):
        Pipeline([Step("flip_ud")] * (P.MAX_STEPS + 1))
    with pytest.raises(ValueError, match="needs a name"):
        Pipeline([{"params": {}}])
    with pytest.raises(ValueError, match="unexpected step field"):
        Pipeline([{"name": "flip_ud", "colour": "red"}])
    with pytest.raises(ValueError, match="must be an object"):
        Pipeline(["flip_ud"])
    with pytest.raises(ValueError, match="enabled"):
        Pipeline([{"name": "flip_ud", "enabled": "no"}])
    with pytest.raises(ValueError):
        Pipeline("flip_ud")


# --------------------------------------------------------------------------
# running
# --------------------------------------------------------------------------


def test_steps_run_in_order_and_match_the_filters(photo):
    img = F.to_float(photo)
    p = Pipeline([Step("crop", {"top": 0.3, "bottom": 0.0, "left": 0.0, "right": 0.0}), Step("flip_ud")])
    q = Pipeline([Step("flip_ud"), Step("crop", {"top": 0.3, "bottom": 0.0, "left": 0.0, "right": 0.0})])
    expected = F.flip_ud(F.crop(img, 0.3))
    assert np.array_equal(p.apply(photo), expected)
    assert not np.array_equal(q.apply(photo), expected)  # order matters
    assert np.array_equal(q.apply(photo), F.crop(F.flip_ud(img), 0.3))


def test_disabled_steps_are_skipped(photo):
    p = Pipeline([Step("flip_lr", enabled=False), Step("gaussian_blur", {"sigma": 2.0})])
    assert np.allclose(p.apply(photo), F.gaussian_blur(photo, 2.0))
    assert np.array_equal(Pipeline([Step("flip_lr", enabled=False)]).apply(photo), F.to_float(photo))
    assert np.array_equal(p.apply(photo, stop=1), F.to_float(photo))


def test_render_is_uint8_for_display(photo, sample):
    out = sample.render(photo)
    assert out.dtype == np.uint8 and out.ndim == 3 and out.shape[2] == 3
    assert np.array_equal(out, F.to_uint8(sample.apply(photo)))
    gray = Pipeline([Step("grayscale")]).render(photo)
    assert gray.dtype == np.uint8 and gray.shape == photo.shape[:2]


def test_runtime_errors_name_the_step(photo):
    p = Pipeline([Step("flip_ud"), Step("crop_pixels", {"top": 100, "bottom": 100})])
    with pytest.raises(ValueError, match=r"step 2 \(Crop \(pixels\)\): crop margins"):
        p.apply(photo)


def test_editing_returns_new_validated_pipelines():
    p = Pipeline().append("flip_ud").append("gaussian_blur", {"sigma": 2.0}).append("grayscale")
    assert [s.name for s in p] == ["flip_ud", "gaussian_blur", "grayscale"]
    assert [s.name for s in p.move(2, 0)] == ["grayscale", "flip_ud", "gaussian_blur"]
    assert [s.name for s in p.move(0, 99)] == ["gaussian_blur", "grayscale", "flip_ud"]
    assert [s.name for s in p.remove(1)] == ["flip_ud", "grayscale"]
    assert p.set_enabled(1, False)[1].enabled is False and p[1].enabled is True
    assert p.set_params(1, sigma=4)[1].params["sigma"] == 4.0
    assert p.insert(0, Step("flip_lr"))[0].name == "flip_lr"
    with pytest.raises(ValueError, match="step 2: gaussian_blur: sigma=99"):
        p.set_params(1, sigma=99)
    with pytest.raises(IndexError):
        p.remove(5)
    assert p.changes_size is False and p.append("rotate").changes_size is True


# --------------------------------------------------------------------------
# serialisation
# --------------------------------------------------------------------------


def test_json_round_trip(sample):
    text = sample.to_json()
    back = Pipeline.from_json(text)
    assert back == sample
    assert back.to_json() == text
    doc = json.loads(text)
    assert doc["version"] == P.FORMAT_VERSION and len(doc["steps"]) == len(sample)
    assert doc["steps"][1] == {"name": "median_blur", "params": {"size": 5}, "enabled": False}
    assert Pipeline.from_json(text.encode()) == sample
    assert Pipeline.from_dict(doc["steps"]) == sample  # a bare list also works


def test_json_round_trip_keeps_results(photo, sample):
    assert np.array_equal(Pipeline.from_json(sample.to_json()).apply(photo), sample.apply(photo))


@pytest.mark.parametrize(
    "text, message",
    [
        ("{", "not valid JSON"),
        ('{"steps": [{"name": "gaussian_blur", "params": {"sigma": NaN}}]}', "NaN is not allowed"),
        ('{"steps": [{"name": "gaussian_blur", "params": {"sigma": Infinity}}]}', "Infinity is not allowed"),
        ('{"version": 99, "steps": []}', "unsupported pipeline version"),
        ('{"format": "photoshop", "steps": []}', "not a pipeline file"),
        ('{"steps": {"name": "flip_ud"}}', "must be a list"),
        ('{"name": "flip_ud"}', "'steps' list"),
        ('"flip_ud"', "'steps' list"),
        ('{"steps": [{"name": "gaussian_blur", "params": {"sigma": 1e9}}]}', "step 1: gaussian_blur: sigma"),
    ],
)
def test_from_json_rejects_bad_input(text, message):
    with pytest.raises(ValueError, match=message):
        Pipeline.from_json(text)


def test_from_json_size_cap():
    huge = json.dumps({"steps": [], "pad": "x" * P.MAX_JSON_CHARS})
    with pytest.raises(ValueError, match="too long"):
        Pipeline.from_json(huge)


def test_query_round_trip(sample):
    q = sample.to_query()
    assert q.startswith("1z.")  # long enough to be deflated
    assert set(q) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")
    assert len(q) <= P.MAX_QUERY_CHARS
    assert Pipeline.from_query(q) == sample
    assert Pipeline.from_query(Pipeline().to_query()) == Pipeline()


def test_query_is_compact(sample):
    # defaults are left out, so the link is much shorter than the JSON
    assert len(sample.to_query()) < len(sample.to_json(indent=None)) / 2
    simple = Pipeline([Step("flip_ud"), Step("gaussian_blur", {"sigma": 5.0})])
    q = simple.to_query()
    assert q.startswith("1.") and len(q) < 64  # plain base64: deflate would be longer
    assert base64.urlsafe_b64decode(q[2:] + "==") == b'[["flip_ud"],["gaussian_blur",{"sigma":5.0}]]'
    assert Pipeline.from_query(q) == simple


def _encode(rows, deflate: bool = True) -> str:
    raw = json.dumps(rows).encode()
    if not deflate:
        return "1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return "1z." + base64.urlsafe_b64encode(c.compress(raw) + c.flush()).decode().rstrip("=")


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "known format"),
        ("2.abc", "known format"),
        ("1.ab+/", "URL-safe"),
        ("1.@@@", "URL-safe"),
        ("1.QUJD", "not valid JSON"),  # base64 of "ABC"
        ("1z.QUJD", "damaged|truncated"),  # "ABC" is not a deflate stream
        ("1z.A", "damaged"),  # not even base64
        (_encode({"steps": []}), "list of steps"),
        (_encode([["gaussian_blur", {"sigma": 500}]], deflate=False), "sigma=500"),
        (_encode([["gaussian_blur", {"sigma": 500}]]), "step 1: gaussian_blur: sigma=500"),
        (_encode([["nope"]]), "unknown step"),
        (_encode([["flip_ud", {}, 5]]), "0 \\(off\\) or 1"),
        (_encode([["flip_ud", {}, 0, 1]]), "compact step"),
        (_encode(["flip_ud"]), "compact step"),
    ],
)
def test_from_query_rejects_bad_strings(query, message):
    with pytest.raises(ValueError, match=message):
        Pipeline.from_query(query)


def test_query_length_caps():
    with pytest.raises(ValueError, match="too long"):
        Pipeline.from_query("1." + "A" * P.MAX_QUERY_CHARS)
    # a deflate bomb that would inflate past the JSON cap is refused
    bomb = _encode([["flip_ud"]] * 1 + [["grayscale", {"x": " " * (P.MAX_JSON_CHARS * 2)}]])
    assert len(bomb) < P.MAX_QUERY_CHARS
    with pytest.raises(ValueError, match="too much data"):
        Pipeline.from_query(bomb)
    # a pipeline too big for a link says so, instead of making a broken link
    rng = np.random.default_rng(0)
    big = Pipeline([Step("convolve_kernel", {"kernel": rng.normal(size=(5, 5)).tolist()}) for _ in range(P.MAX_STEPS)])
    with pytest.raises(ValueError, match="too long for a link"):
        big.to_query()
    assert Pipeline.from_json(big.to_json()) == big  # JSON still works


def test_query_truncated_link():
    q = Pipeline([Step("gaussian_blur", {"sigma": 2.5}), Step("look", {"look": "moon"})]).to_query()
    with pytest.raises(ValueError):
        Pipeline.from_query(q[:-6])


# --------------------------------------------------------------------------
# previews
# --------------------------------------------------------------------------


def test_make_preview_limits_the_longest_side():
    big = np.zeros((3000, 2000, 3), np.uint8)
    small, scale = P.make_preview(big, 1080)
    assert small.shape == (1080, 720, 3) and scale == pytest.approx(0.36)
    same, s1 = P.make_preview(big[:500, :400], 1080)
    assert same.shape == (500, 400, 3) and s1 == 1.0


def test_preview_area_average_keeps_mean(photo):
    big = np.kron(F.to_float(photo[..., 0]), np.ones((10, 10), np.float32))  # 1280x960
    small, scale = P.make_preview(big, 320)
    assert small.shape == (320, 240) and scale == 0.25
    assert abs(small.mean() - big.mean()) < 1e-3


def test_apply_preview_scales_pixel_parameters():
    # a 4x larger copy of the astronaut; the preview must look like a shrunk full result
    base = F.to_float(data.astronaut()[::2, ::2])  # 256x256
    full = np.kron(base, np.ones((4, 4, 1), np.float32))  # 1024x1024
    p = Pipeline([Step("gaussian_blur", {"sigma": 8.0}), Step("median_blur", {"size": 9})])
    pv = P.apply_preview(p, full, max_side=256)
    assert pv.scale == 0.25 and pv.before.shape == pv.after.shape == (256, 256, 3)
    assert pv.full_shape == (1024, 1024)
    shrunk_full, _ = P.make_preview(p.apply(full), 256)
    unscaled = F.to_uint8(p.apply(P.make_preview(full, 256)[0]))  # what ignoring the scale would give
    err_scaled = np.abs(pv.after.astype(float) - F.to_uint8(shrunk_full)).mean()
    err_unscaled = np.abs(unscaled.astype(float) - F.to_uint8(shrunk_full)).mean()
    assert err_scaled < 2.0
    assert err_unscaled > 2 * err_scaled


def test_scaled_params_rules():
    spec = P.STEPS["median_blur"]
    assert P._scaled(spec, {"size": 9}, 0.25)["size"] == 3
    assert P._scaled(spec, {"size": 3}, 0.25)["size"] == 1
    assert P._scaled(P.STEPS["crop_pixels"], {"top": 100, "bottom": 0, "left": 3, "right": 1}, 0.1) == {
        "top": 10, "bottom": 0, "left": 0, "right": 0,
    }  # fmt: skip
    assert P._scaled(P.STEPS["blank_rows"], {"start": 0.1, "stop": 0.2, "step": 2, "value": 1.0}, 0.2)["step"] == 1
    assert P._scaled(P.STEPS["rotate"], {"angle": 30.0}, 0.2) == {"angle": 30.0}  # not spatial


def test_preview_pipeline_method_and_sequences(photo):
    p = Pipeline([Step("flip_lr")])
    a = p.preview(photo, 64)
    b = P.apply_preview([Step("flip_lr")], photo, 64)
    c = P.apply_preview([{"name": "flip_lr"}], photo, 64)
    assert np.array_equal(a.after, b.after) and np.array_equal(a.after, c.after)
    assert max(a.after.shape[:2]) == 64 and a.after.dtype == np.uint8


def test_make_preview_of_8bit_matches_float_path(photo):
    big = np.kron(photo, np.ones((8, 8, 1), np.uint8))  # 1024x768 uint8
    a, sa = P.make_preview(big, 256)
    b, sb = P.make_preview(F.to_float(big), 256)
    assert sa == sb == 0.25 and a.shape == b.shape == (256, 192, 3)
    assert np.abs(a - b).max() <= 0.5 / 255 + 1e-6
    assert np.abs(a[::2, ::2] - F.to_float(photo)).max() <= 0.5 / 255 + 1e-6  # 2x2 blocks of the photo


def test_steps_and_pipelines_are_hashable(sample):
    assert hash(Pipeline.from_json(sample.to_json())) == hash(sample)
    assert len({Step("flip_ud"), Step("flip_ud"), Step("flip_ud", enabled=False)}) == 2


def test_key_is_canonical(sample):
    assert Pipeline.from_query(sample.to_query()).key == sample.key
    assert sample.set_params(0, sigma=2.0).key != sample.key


def test_docstring_examples_run():
    result = doctest.testmod(P)
    assert result.attempted > 5 and result.failed == 0


def test_make_preview_is_opencv_area_average_in_the_photos_dtype(photo):
    """make_preview shrinks through core.image's fit_longest_side(resample="area"): the reference is cv2's."""
    cv2 = pytest.importorskip("cv2")
    from core.image.geometry import fit_longest_side

    big = np.kron(photo, np.ones((7, 7, 1), np.uint8))  # 896x672 uint8, a non-integer shrink to 300
    small, scale = P.make_preview(big, 300)
    ref = cv2.resize(big, (225, 300), interpolation=cv2.INTER_AREA)
    assert scale == 300 / 896 and np.array_equal(F.to_uint8(small), ref)
    assert np.array_equal(fit_longest_side(big, 300, resample="area"), ref)
    deep = big.astype(np.uint16) * 257
    assert fit_longest_side(deep, 300, resample="area").dtype == np.uint16
    assert np.abs(P.make_preview(deep, 300)[0] - small).max() < 0.6 / 255  # 16 bits: not rounded to 8


def test_area_shrink_without_opencv_is_pillows_box_filter(photo, monkeypatch):
    from core.image.geometry import fit_longest_side

    big = np.kron(photo, np.ones((7, 7, 1), np.uint8))
    with_cv2 = fit_longest_side(big, 300, resample="area").astype(float)
    monkeypatch.setitem(sys.modules, "cv2", None)  # "import cv2" now fails
    for image in (big, big.astype(np.uint16) * 257, F.to_float(big), big[:, :, :1]):
        out = fit_longest_side(image, 300, resample="area")
        assert out.dtype == image.dtype and out.shape == (300, 225) + image.shape[2:]
    without = fit_longest_side(big, 300, resample="area").astype(float)
    assert np.abs(without - with_cv2).mean() < 1.5  # same averaging, pixel grids aligned a little differently


def test_parse_takes_json_a_link_value_or_a_whole_link(sample):
    """What a command line gets: whatever the user copied or saved."""
    forms = [sample.to_json(), sample.to_json(indent=None).encode(), json.dumps(sample.to_dict()["steps"]),
             sample.to_query(), f"  {sample.to_query()}\n", f"pipeline={sample.to_query()}",
             f"http://localhost:8501/filters?archive=demo&pipeline={sample.to_query()}"]
    for text in forms:
        assert Pipeline.parse(text) == sample


@pytest.mark.parametrize("text, message", [
    ("", "known format"),
    ("{not json", "not valid JSON"),
    ('{"steps": [{"name": "nope"}]}', "unknown step"),
    ("http://localhost:8501/filters?archive=demo", "no pipeline= parameter"),
    ("http://localhost:8501/filters?pipeline=1z.not-a-pipeline", "damaged|truncated"),
    (b"\xff\xfe", "UTF-8"),
])
def test_parse_says_what_is_wrong(text, message):
    with pytest.raises(ValueError, match=message):
        Pipeline.parse(text)
