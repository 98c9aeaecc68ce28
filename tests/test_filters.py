"""Tests for the single-image filters of core.filters (convert, blur, kernels, geometry, masks,
exposure, colour, noise, compare): each filter against its scipy.ndimage / skimage reference,
plus the properties the photo lab promises (flips, rotation, mean, denoising), dtype and
channel handling, kernel validation, and the package's boundaries (what it exports, which
module may import which)."""

from __future__ import annotations

import ast
import doctest
import importlib
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage import color, data, exposure

import core.filters as F
from core.filters import convert

ROOT = Path(__file__).resolve().parents[1]

# --------------------------------------------------------------------------
# fixtures
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def astro_u8() -> np.ndarray:
    """Real RGB photo, 512x512 uint8."""
    return data.astronaut()


@pytest.fixture(scope="module")
def rgb(astro_u8) -> np.ndarray:
    """A 192x160 float32 RGB photo crop (non-square, to catch axis mix-ups)."""
    return F.to_float(astro_u8[40:232:1, 100:260])


@pytest.fixture(scope="module")
def gray() -> np.ndarray:
    """A 200x150 float32 crop of skimage's camera()."""
    return F.to_float(data.camera()[100:300, 150:300])


@pytest.fixture(scope="module")
def rgba(rgb) -> np.ndarray:
    """RGB photo with a non-trivial alpha ramp."""
    h, w = rgb.shape[:2]
    alpha = np.tile(np.linspace(0.2, 0.9, w, dtype=np.float32), (h, 1))
    return np.dstack([rgb, alpha])


@pytest.fixture(params=["cv2", "scipy"])
def engine(request, monkeypatch):
    """Run a test with the OpenCV fast path and with the pure-scipy fallback."""
    if request.param == "scipy":
        monkeypatch.setattr(convert, "_cv2", None)  # every fast path asks convert for OpenCV
    elif convert._cv2 is None:  # pragma: no cover
        pytest.skip("OpenCV not installed")
    return request.param


def per_channel(fn, img):
    """Reference helper: apply a 2-D function to each channel of RGB."""
    if img.ndim == 2:
        return fn(img)
    return np.stack([fn(img[:, :, c]) for c in range(img.shape[2])], axis=2)


def ref_luminance(rgb, fn):
    """Reference for channel_mode='luminance': change skimage's rgb2gray, keep chroma."""
    y = color.rgb2gray(rgb.astype(np.float64))
    return np.clip(rgb + (fn(y) - y)[:, :, None], 0, 1)


# --------------------------------------------------------------------------
# dtype and shape handling
# --------------------------------------------------------------------------


def test_to_float_scales_each_dtype():
    assert F.to_float(np.array([[0, 51, 255]], np.uint8))[0].tolist() == pytest.approx([0, 0.2, 1])
    assert F.to_float(np.array([[0, 13107, 65535]], np.uint16))[0].tolist() == pytest.approx([0, 0.2, 1])
    assert F.to_float(np.array([[True, False]])).tolist() == [[1.0, 0.0]]
    out = F.to_float(np.array([[-0.5, 0.25, 2.0]]))
    assert out.dtype == np.float32 and out.tolist() == [[0.0, 0.25, 1.0]]
    assert F.to_float(np.zeros((4, 5, 1), np.uint8)).shape == (4, 5)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((4, 4), np.int32),
        np.zeros((4, 4, 2), np.uint8),
        np.zeros((4,), np.uint8),
        np.zeros((0, 4), np.uint8),
        np.array([[0.0, np.nan]]),
        np.array([[0.0, np.inf]]),
    ],
)
def test_to_float_rejects_unsupported_input(bad):
    with pytest.raises(ValueError):
        F.to_float(bad)


def test_to_uint8_round_trips_8bit(astro_u8):
    assert np.array_equal(F.to_uint8(F.to_float(astro_u8)), astro_u8)
    rng = np.random.default_rng(0)
    x = rng.random((50, 40, 3)).astype(np.float32)
    assert np.array_equal(F.to_uint8(x), np.rint(x * np.float32(255)).astype(np.uint8))


def test_16bit_precision_is_kept():
    ramp = np.arange(0, 65536, 7, dtype=np.uint16)[:9000].reshape(90, 100)
    out = F.gaussian_blur(ramp, 0)
    # 9000 distinct 16-bit levels survive (uint8 would leave at most 256)
    assert len(np.unique(out)) == 9000
    ref = ndi.gaussian_filter(ramp.astype(np.float64) / 65535, 2.0, mode="reflect")
    assert np.allclose(F.gaussian_blur(ramp, 2.0), ref, atol=2e-6)


def test_functions_do_not_modify_their_input(rgb):
    before = rgb.copy()
    for fn in (F.flip_ud, F.grayscale, lambda x: F.blank_rows(x, 0, 5), lambda x: F.circular_mask(x)):
        fn(rgb)
    assert np.array_equal(rgb, before)


# --------------------------------------------------------------------------
# blur and denoise against scipy.ndimage
# --------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.3, 1.0, 3.0, 7.0])
def test_gaussian_matches_scipy(rgb, gray, sigma, engine):
    ref_rgb = per_channel(lambda c: ndi.gaussian_filter(c.astype(np.float64), sigma, mode="reflect"), rgb)
    assert np.allclose(F.gaussian_blur(rgb, sigma), ref_rgb, atol=1e-5)
    assert np.allclose(F.gaussian_blur(gray, sigma), ndi.gaussian_filter(gray.astype(np.float64), sigma), atol=1e-5)


def test_gaussian_on_image_smaller_than_kernel():
    tiny = np.random.default_rng(1).random((6, 9))
    assert np.allclose(F.gaussian_blur(tiny, 5.0), ndi.gaussian_filter(tiny, 5.0), atol=1e-5)


def test_gaussian_keeps_the_mean(astro_u8):
    img = F.to_float(astro_u8)
    for sigma in (2.0, 8.0):
        out = F.gaussian_blur(img, sigma)
        assert abs(out.mean() - img.mean()) < 1e-3
        assert out.std() < img.std()  # and it does blur


@pytest.mark.parametrize("size", [3, 10])
def test_uniform_matches_scipy(rgb, size):
    ref = per_channel(lambda c: ndi.uniform_filter(c.astype(np.float64), size, mode="reflect"), rgb)
    assert np.allclose(F.uniform_blur(rgb, size), ref, atol=1e-5)


@pytest.mark.parametrize("size", [3, 5])
def test_median_matches_scipy_exactly(rgb, gray, size, engine):
    ref = per_channel(lambda c: ndi.median_filter(c, size, mode="reflect"), rgb)
    assert np.array_equal(F.median_blur(rgb, size), ref)
    assert np.array_equal(F.median_blur(gray, size), ndi.median_filter(gray, size, mode="reflect"))


@pytest.mark.parametrize("size", [7, 9])
def test_large_median_is_scipy_rounded_to_8bit(size, engine):
    img = np.random.default_rng(2).random((60, 70, 3)).astype(np.float32)
    ref = per_channel(lambda c: ndi.median_filter(c, size, mode="reflect"), img)
    out = F.median_blur(img, size)
    if engine == "cv2":  # quantised to 1/255, exactly the rounded reference
        assert np.array_equal(F.to_uint8(out), F.to_uint8(ref))
        assert np.abs(out - ref).max() <= 0.5 / 255 + 1e-6
    else:
        assert np.array_equal(out, ref)


def test_median_rejects_even_size(rgb):
    with pytest.raises(ValueError, match="odd"):
        F.median_blur(rgb, 4)


@pytest.mark.parametrize("name", ["camera", "astronaut"])
def test_median_removes_salt_and_pepper_better_than_gaussian(name):
    clean = F.to_float(getattr(data, name)())
    noisy = F.add_salt_pepper_noise(clean, 0.05, random_state=42)
    psnr_noisy = F.psnr(clean, noisy)
    psnr_median = F.psnr(clean, F.median_blur(noisy, 3))
    # give the Gaussian its best sigma
    psnr_gauss = max(F.psnr(clean, F.gaussian_blur(noisy, s)) for s in (0.5, 1.0, 1.5, 2.0, 3.0))
    assert psnr_median > psnr_noisy + 10
    assert psnr_median > psnr_gauss + 3, (psnr_median, psnr_gauss)  # camera: ~30 vs ~26 dB


def test_salt_and_pepper_noise(rgba):
    out = F.add_salt_pepper_noise(rgba, 0.1, salt_vs_pepper=0.3, random_state=7)
    changed = out[..., :3] != rgba[..., :3]
    assert 0.08 < changed.mean() < 0.12
    assert set(np.unique(out[..., :3][changed])) <= {0.0, 1.0}
    assert 0.2 < (out[..., :3][changed] == 1).mean() < 0.4
    assert np.array_equal(out[..., 3], rgba[..., 3])
    assert np.array_equal(out, F.add_salt_pepper_noise(rgba, 0.1, salt_vs_pepper=0.3, random_state=7))
    assert not np.array_equal(out, F.add_salt_pepper_noise(rgba, 0.1, salt_vs_pepper=0.3, random_state=8))


# --------------------------------------------------------------------------
# edges
# --------------------------------------------------------------------------

_ND_EDGE = {"sobel": (ndi.sobel, 4.0), "prewitt": (ndi.prewitt, 3.0)}


@pytest.mark.parametrize("operator", ["sobel", "prewitt"])
def test_edge_magnitude_matches_scipy(gray, operator, engine):
    fn, peak = _ND_EDGE[operator]
    g = gray.astype(np.float64)
    mag = np.hypot(fn(g, 0), fn(g, 1))
    assert np.allclose(F.edges(gray, operator, rescale=False), mag / (peak * np.sqrt(2)), atol=1e-5)
    assert np.allclose(F.edges(gray, operator), mag / mag.max(), atol=1e-5)


@pytest.mark.parametrize("operator", ["sobel", "prewitt"])
@pytest.mark.parametrize("axis", [0, 1])
def test_edge_axis_matches_scipy(gray, operator, axis, engine):
    fn, peak = _ND_EDGE[operator]
    d = fn(gray.astype(np.float64), axis)
    assert np.allclose(F.edges(gray, operator, axis, rescale=False), 0.5 + d / (2 * peak), atol=1e-5)
    assert np.allclose(F.edges(gray, operator, axis), 0.5 + d / (2 * np.abs(d).max()), atol=1e-5)


def test_edges_on_luminance_and_per_channel(rgb, rgba):
    y = color.rgb2gray(rgb.astype(np.float64))
    mag = np.hypot(ndi.sobel(y, 0), ndi.sobel(y, 1))
    out = F.edges(rgb, rescale=False)
    assert out.shape == rgb.shape[:2]
    assert np.allclose(out, mag / (4 * np.sqrt(2)), atol=1e-5)
    per = F.edges(rgb, channel_mode="per_channel", rescale=False)
    ref = per_channel(lambda c: np.hypot(ndi.sobel(c, 0), ndi.sobel(c, 1)) / (4 * np.sqrt(2)), rgb.astype(np.float64))
    assert per.shape == rgb.shape and np.allclose(per, ref, atol=1e-5)
    out4 = F.edges(rgba)
    assert out4.shape == rgba.shape and np.array_equal(out4[..., 3], rgba[..., 3])
    assert np.array_equal(out4[..., 0], out4[..., 2])


def test_edges_of_flat_image_are_zero():
    assert F.edges(np.full((8, 8), 0.3)).max() == 0
    assert np.all(F.edges(np.full((8, 8), 0.3), axis=1) == 0.5)


# --------------------------------------------------------------------------
# custom kernels
# --------------------------------------------------------------------------


@pytest.mark.parametrize("size", [3, 5])
@pytest.mark.parametrize("mode", F.BORDER_MODES)
def test_convolve_matches_scipy_for_each_border_mode(gray, mode, size, engine):
    # asymmetric kernel: catches a correlation passed off as a convolution;
    # 5x5 tells the border modes apart beyond the first pixel
    k = np.random.default_rng(size).random((size, size))
    k /= k.sum()
    ref = ndi.convolve(gray.astype(np.float64), k, mode=mode, cval=0.7)
    assert np.allclose(F.convolve_kernel(gray, k, mode=mode, cval=0.7), np.clip(ref, 0, 1), atol=1e-5)


def test_convolve_is_not_correlate(gray):
    # a 1 left of centre: convolution reads the right neighbour (correlation would read the left)
    k = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    out = F.convolve_kernel(gray, k, mode="nearest")
    assert np.array_equal(out[:, :-1], gray[:, 1:])
    assert not np.allclose(out[:, 1:], gray[:, :-1])


def test_seed_kernel_as_in_the_lecture(rgb):
    k = np.array([[0.1, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.1]])
    assert np.array_equal(np.array(F.KERNEL_PRESETS["seed"]), k)
    ref = per_channel(lambda c: ndi.convolve(c.astype(np.float64), k, mode="constant", cval=0.0), rgb)
    assert np.allclose(F.convolve_kernel(rgb, F.KERNEL_PRESETS["seed"]), np.clip(ref, 0, 1), atol=1e-5)
    norm = F.convolve_kernel(rgb, k, normalise=True, mode="reflect")
    ref_n = per_channel(lambda c: ndi.convolve(c.astype(np.float64), k / 1.7, mode="reflect"), rgb)
    assert np.allclose(norm, ref_n, atol=1e-5)


def test_random_5x5_kernel_matches_scipy(rgb, engine):
    k = np.random.default_rng(3).normal(size=(5, 5))
    ref = per_channel(lambda c: ndi.convolve(c.astype(np.float64), k, mode="reflect"), rgb)
    assert np.allclose(F.convolve_kernel(rgb, k, mode="reflect"), np.clip(ref, 0, 1), atol=1e-5)


@pytest.mark.parametrize("name", sorted(F.KERNEL_PRESETS))
def test_presets_are_valid_kernels(name, rgb):
    k = F.validate_kernel(F.KERNEL_PRESETS[name])
    assert k.shape in ((3, 3), (5, 5))
    # all but the lecture's kernel keep the brightness without normalise
    assert k.sum() == pytest.approx(1.7 if name == "seed" else 1.0)
    out = F.convolve_kernel(rgb, k, mode="reflect")
    assert out.shape == rgb.shape and np.isfinite(out).all()


def test_identity_box_and_gaussian_presets(rgb):
    assert np.allclose(F.convolve_kernel(rgb, F.KERNEL_PRESETS["identity"]), rgb, atol=1e-6)
    box = F.convolve_kernel(rgb, F.KERNEL_PRESETS["box"], mode="reflect")
    assert np.allclose(box, F.uniform_blur(rgb, 3), atol=1e-5)
    box5 = F.convolve_kernel(rgb, F.KERNEL_PRESETS["box5"], mode="reflect")
    assert np.allclose(box5, F.uniform_blur(rgb, 5), atol=1e-5)
    binomial = np.array([1, 4, 6, 4, 1]) / 16
    ref = per_channel(lambda c: ndi.convolve(c.astype(np.float64), np.outer(binomial, binomial), mode="reflect"), rgb)
    assert np.allclose(F.convolve_kernel(rgb, F.KERNEL_PRESETS["gaussian5"], mode="reflect"), ref, atol=1e-5)


@pytest.mark.parametrize(
    "kernel, message",
    [
        (np.ones((4, 4)), "3x3 or 5x5"),
        (np.ones((7, 7)), "3x3 or 5x5"),
        (np.ones((3, 5)), "3x3 or 5x5"),
        (np.ones(9), "3x3 or 5x5"),
        ([[1, 2, 3], [4, 5], [6, 7, 8]], "grid of numbers"),
        ([["a", "b", "c"]] * 3, "grid of numbers"),
        ([[1, 1, 1], [1, np.nan, 1], [1, 1, 1]], "finite"),
        ([[1, 1, 1], [1, np.inf, 1], [1, 1, 1]], "finite"),
        ([[1, 1, 1], [1, 1e6, 1], [1, 1, 1]], "within"),
    ],
)
def test_kernel_validation_errors(gray, kernel, message):
    with pytest.raises(ValueError, match=message):
        F.convolve_kernel(gray, kernel)


def test_zero_sum_kernel_with_normalise_is_a_clear_error(gray):
    zero = np.zeros((3, 3))
    laplace = [[0, 1, 0], [1, -4, 1], [0, 1, 0]]
    for k in (zero, laplace):
        with pytest.raises(ValueError, match="sums to zero"):
            F.convolve_kernel(gray, k, normalise=True)
    # without normalise it is allowed and finite (no NaN image)
    out = F.convolve_kernel(gray, laplace, mode="reflect")
    assert np.isfinite(out).all()
    assert F.convolve_kernel(gray, zero).max() == 0


@pytest.mark.parametrize("name", sorted(F.KERNEL_PRESETS))
def test_resize_kernel_grows_with_zeros_and_shrinks_to_the_centre(name, rgb):
    k = np.array(F.KERNEL_PRESETS[name])
    other = 3 if len(k) == 5 else 5
    there = F.resize_kernel(k, other)
    assert there.shape == (other, other)
    if other == 5:  # a ring of zeros: the same filter
        assert np.array_equal(F.resize_kernel(there, 3), k)
        assert np.allclose(F.convolve_kernel(rgb, there), F.convolve_kernel(rgb, k), atol=1e-6)
    else:
        assert np.array_equal(there, k[1:-1, 1:-1])
    with pytest.raises(ValueError, match="3x3 or 5x5"):
        F.resize_kernel(k, 7)


def test_convolve_rejects_bad_options(gray):
    with pytest.raises(ValueError, match="mode"):
        F.convolve_kernel(gray, F.KERNEL_PRESETS["box"], mode="bogus")
    with pytest.raises(ValueError, match="cval"):
        F.convolve_kernel(gray, F.KERNEL_PRESETS["box"], cval=2.0)


# --------------------------------------------------------------------------
# geometry
# --------------------------------------------------------------------------


def test_crop_fractions_match_the_lecture():
    face = data.camera()[:, :400]  # non-square, 512x400
    lx, ly = face.shape
    ref = face[lx // 4 : -lx // 4, ly // 4 : -ly // 4]
    assert np.array_equal(F.to_uint8(F.crop(face, 0.25, 0.25, 0.25, 0.25)), ref)


def test_crop_pixels_and_errors(rgba):
    out = F.crop(rgba, 3, 5, 7, 11, unit="pixel")
    assert np.array_equal(out, rgba[3:-5, 7:-11])
    with pytest.raises(ValueError, match="no pixels"):
        F.crop(rgba, 100, 100, unit="pixel")
    with pytest.raises(ValueError):
        F.crop(rgba, -1)
    with pytest.raises(ValueError):
        F.crop(rgba, 0.1, unit="inch")


def test_flips_match_numpy_and_twice_is_identity(rgba, gray):
    for img in (rgba, gray):
        assert np.array_equal(F.flip_ud(img), np.flipud(img))
        assert np.array_equal(F.flip_lr(img), np.fliplr(img))
        assert np.array_equal(F.flip_ud(F.flip_ud(img)), img)
        assert np.array_equal(F.flip_lr(F.flip_lr(img)), img)
        assert not np.array_equal(F.flip_ud(img), img)


@pytest.mark.parametrize("reshape", [True, False])
@pytest.mark.parametrize("order", [0, 1, 3])
def test_rotate_matches_scipy(gray, reshape, order):
    ref = ndi.rotate(gray, 30, reshape=reshape, order=order, mode="constant", cval=0.2)
    out = F.rotate(gray, 30, reshape=reshape, order=order, cval=0.2)
    assert out.shape == ref.shape
    assert np.allclose(out, np.clip(ref, 0, 1), atol=1e-5)


def test_rotate_360_is_identity(rgb):
    for order in (1, 3):
        out = F.rotate(rgb, 360, order=order)
        assert out.shape == rgb.shape
        assert np.abs(out - rgb).max() < 1e-3


def test_rotate_reshape_and_rgba_corners(rgba):
    h, w = rgba.shape[:2]
    assert F.rotate(rgba, 90).shape == (w, h, 4)
    out = F.rotate(rgba, 45, cval=1.0)
    assert out.shape[0] > h and out.shape[1] > w
    assert out[0, 0, 3] == 0  # new corner is transparent
    assert np.all(out[0, 0, :3] == 1)  # and filled with cval
    assert out[out.shape[0] // 2, out.shape[1] // 2, 3] > 0


# --------------------------------------------------------------------------
# masks
# --------------------------------------------------------------------------


def test_circular_mask_matches_the_lecture():
    face = data.camera()[:, 50:450].copy()  # 512x400
    lx, ly = face.shape
    X, Y = np.ogrid[0:lx, 0:ly]
    mask = (X - lx / 2) ** 2 + (Y - ly / 2) ** 2 > lx * ly / 4
    ref = face.copy()
    ref[mask] = 0
    assert np.array_equal(F.to_uint8(F.circular_mask(face)), ref)
    inv = F.circular_mask(face, invert=True, fill=1.0)
    assert np.all(inv[~mask] == 1) and np.array_equal(F.to_uint8(inv)[mask], face[mask])


def test_circular_mask_radius_and_alpha(rgba):
    small = F.circular_mask(rgba, 0.5)
    big = F.circular_mask(rgba, 1.2)
    assert (small[..., :3] == 0).all(axis=2).sum() > (big[..., :3] == 0).all(axis=2).sum()
    assert np.array_equal(small[..., 3], rgba[..., 3])


def test_blank_rows_matches_the_lecture():
    face = data.camera()
    ref = face.copy()
    ref[50:150] = 255
    assert np.array_equal(F.to_uint8(F.blank_rows(face, 50, 150)), ref)
    ref2 = face.copy()
    ref2[10:200:3] = 0
    assert np.array_equal(F.to_uint8(F.blank_rows(face, 10, 200, 3, value=0.0)), ref2)
    frac = F.blank_rows(face, 0.25, 0.5, unit="fraction")
    ref3 = face.copy()
    ref3[128:256] = 255
    assert np.array_equal(F.to_uint8(frac), ref3)


def test_blank_rows_errors(gray):
    with pytest.raises(ValueError):
        F.blank_rows(gray, 0, 10, 0)
    with pytest.raises(ValueError):
        F.blank_rows(gray, -1, 10)
    with pytest.raises(ValueError):
        F.blank_rows(gray, 0, 10, value=3)


# --------------------------------------------------------------------------
# contrast
# --------------------------------------------------------------------------


def test_equalize_hist_matches_skimage(gray, rgb):
    assert np.allclose(F.equalize_hist(gray), exposure.equalize_hist(gray), atol=1e-6)
    per = F.equalize_hist(rgb, channel_mode="per_channel")
    assert np.allclose(per, per_channel(exposure.equalize_hist, rgb), atol=1e-6)
    lum = F.equalize_hist(rgb)
    assert np.allclose(lum, ref_luminance(rgb, exposure.equalize_hist), atol=1e-5)
    assert not np.allclose(lum, per, atol=1e-2)  # the two modes really differ


@pytest.mark.parametrize("nbins", [2, 64, 256])
def test_equalize_hist_edge_cases_match_skimage(nbins):
    flat = np.full((20, 30), 0.3, np.float32)
    assert np.allclose(F.equalize_hist(flat, nbins=nbins), exposure.equalize_hist(flat, nbins=nbins), atol=1e-6)
    two = np.zeros((20, 30), np.float32)
    two[:5] = 1.0
    assert np.allclose(F.equalize_hist(two, nbins=nbins), exposure.equalize_hist(two, nbins=nbins), atol=1e-6)
    u16 = (np.random.default_rng(nbins).random((64, 48)) ** 3 * 65535).astype(np.uint16)
    ref = exposure.equalize_hist(u16.astype(np.float32) / 65535, nbins=nbins)
    assert np.allclose(F.equalize_hist(u16, nbins=nbins), ref, atol=1e-6)


def test_equalize_on_luminance_keeps_chroma(rgb):
    out = F.equalize_hist(rgb)
    y_in = color.rgb2gray(rgb)
    y_out = color.rgb2gray(out)
    unclipped = ((out > 0) & (out < 1)).all(axis=2)
    # R - Y and B - Y unchanged where nothing was clipped
    for c in (0, 2):
        assert np.allclose((out[..., c] - y_out)[unclipped], (rgb[..., c] - y_in)[unclipped], atol=1e-4)


@pytest.mark.parametrize("clip_limit", [0.005, 0.01, 0.05])
@pytest.mark.parametrize("tiles", [4, 8])
def test_clahe_matches_skimage(gray, clip_limit, tiles):
    ks = (gray.shape[0] // tiles, gray.shape[1] // tiles)
    ref = exposure.equalize_adapthist(gray, kernel_size=ks, clip_limit=clip_limit)
    out = F.equalize_clahe(gray, clip_limit, tiles=tiles)
    assert out.dtype == np.float32
    # one 14-bit level of rounding
    assert np.abs(out - ref).max() <= 1.5 / 2**14


def test_clahe_colour_modes_match_skimage(rgb):
    ks = (rgb.shape[0] // 8, rgb.shape[1] // 8)

    def ref(c):
        return exposure.equalize_adapthist(c, kernel_size=ks, clip_limit=0.02)

    per = F.equalize_clahe(rgb, 0.02, channel_mode="per_channel")
    assert np.abs(per - per_channel(ref, rgb)).max() <= 1.5 / 2**14
    lum = F.equalize_clahe(rgb, 0.02)
    assert np.abs(lum - ref_luminance(rgb, ref)).max() < 1e-3


def test_clahe_on_flat_and_odd_sized_images():
    flat = np.full((40, 30), 0.4, np.float32)
    assert np.allclose(F.equalize_clahe(flat), exposure.equalize_adapthist(flat, kernel_size=(5, 3)))
    odd = np.random.default_rng(5).random((37, 53)).astype(np.float32)
    ref = exposure.equalize_adapthist(odd, kernel_size=(37 // 3, 53 // 3), clip_limit=0.03, nbins=64)
    assert np.abs(F.equalize_clahe(odd, 0.03, tiles=3, nbins=64) - ref).max() <= 1.5 / 2**14


def test_contrast_options_are_validated(gray):
    with pytest.raises(ValueError, match="channel_mode"):
        F.equalize_hist(gray, channel_mode="hsv")
    with pytest.raises(ValueError, match="clip_limit"):
        F.equalize_clahe(gray, 0)


# --------------------------------------------------------------------------
# colour, curves and looks
# --------------------------------------------------------------------------


def test_grayscale_matches_skimage(rgb, rgba, gray):
    out = F.grayscale(rgb)
    assert out.shape == rgb.shape[:2]
    assert np.allclose(out, color.rgb2gray(rgb), atol=1e-6)
    assert F.grayscale(rgb, keep_channels=True).shape == rgb.shape
    out4 = F.grayscale(rgba)
    assert out4.shape == rgba.shape and np.array_equal(out4[..., 3], rgba[..., 3])
    assert np.allclose(out4[..., 1], color.rgb2gray(rgb), atol=1e-6)
    assert np.array_equal(F.grayscale(gray), gray)


def test_adjust_saturation(rgb):
    assert np.allclose(F.adjust_saturation(rgb, 1.0), rgb, atol=1e-6)
    zero = F.adjust_saturation(rgb, 0.0)
    assert np.allclose(zero, np.repeat(color.rgb2gray(rgb)[..., None], 3, axis=2), atol=1e-5)
    more = F.adjust_saturation(rgb, 1.5)
    assert np.ptp(more, axis=2).mean() > np.ptp(rgb, axis=2).mean() * 1.2
    ok = ((more > 0) & (more < 1)).all(axis=2)
    assert np.allclose(color.rgb2gray(more)[ok], color.rgb2gray(rgb)[ok], atol=1e-5)  # brightness kept
    with pytest.raises(ValueError):
        F.adjust_saturation(rgb, -1)


def test_curve_lut_linear_and_smooth():
    pts = [(0, 0.1), (0.3, 0.2), (0.8, 0.9), (1, 1)]
    x = np.linspace(0, 1, 1024)
    assert np.allclose(F.curve_lut(pts, smooth=False), np.interp(x, *zip(*pts)), atol=1e-6)
    smooth = F.curve_lut(pts)
    assert np.all(np.diff(smooth) >= -1e-7)  # monotone data, monotone curve (PCHIP)
    assert smooth[0] == pytest.approx(0.1) and smooth[-1] == pytest.approx(1.0)
    assert F.curve_lut([(0.2, 0.3), (0.6, 0.7)], size=11)[0] == pytest.approx(0.3)  # flat outside


def test_tone_curve(rgb, gray):
    assert np.allclose(F.tone_curve(rgb, F.CURVE_PRESETS["identity"]), rgb, atol=1e-6)
    assert np.allclose(F.tone_curve(gray, F.CURVE_PRESETS["invert"]), 1 - gray, atol=1e-6)
    pts = [(0, 0), (0.5, 0.8), (1, 1)]
    lin = F.tone_curve(rgb, pts, smooth=False)
    assert np.allclose(lin, np.interp(rgb, [0, 0.5, 1], [0, 0.8, 1]), atol=2e-3)
    red = F.tone_curve(rgb, pts, channel="red")
    assert np.array_equal(red[..., 1:], rgb[..., 1:]) and (red[..., 0] >= rgb[..., 0] - 1e-6).all()
    assert np.array_equal(F.tone_curve(gray, pts, channel="red"), gray)
    lum = F.tone_curve(rgb, pts, channel="luminance", smooth=False)
    assert np.allclose(lum, ref_luminance(rgb, lambda y: np.interp(y, [0, 0.5, 1], [0, 0.8, 1])), atol=3e-3)


@pytest.mark.parametrize(
    "points",
    [[(0, 0)], [(0, 0), (0, 1)], [(0.5, 0), (0.2, 1)], [(0, 0), (1, 1.5)], [(0, 0), (1, np.nan)], "abc", [(0, 0, 0)]],
)
def test_curve_points_validation(points):
    with pytest.raises(ValueError):
        F.validate_curve_points(points)


@pytest.mark.parametrize("look", sorted(F.LOOKS))
def test_looks(look, rgb, rgba, gray):
    out = F.apply_look(rgb, look)
    assert out.shape == rgb.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1
    assert np.abs(out - rgb).mean() > 0.01  # it does something
    assert np.allclose(F.apply_look(rgb, look, 0.0), rgb, atol=1e-6)
    half = F.apply_look(rgb, look, 0.5)
    assert np.allclose(half, (rgb + out) / 2, atol=1e-5)
    out4 = F.apply_look(rgba, look)
    assert np.array_equal(out4[..., 3], rgba[..., 3])
    assert F.apply_look(gray, look).shape == gray.shape
    for fn_name, _ in F.LOOKS[look].steps:  # built only from the primitives
        assert fn_name in {"tone_curve", "adjust_saturation", "grayscale"}


def test_moon_is_black_and_white(rgb):
    out = F.apply_look(rgb, "moon")
    assert np.ptp(out, axis=2).max() < 1e-6


def test_unknown_look(rgb):
    with pytest.raises(ValueError, match="unknown look"):
        F.apply_look(rgb, "valencia")


# --------------------------------------------------------------------------
# channel layouts: alpha untouched, gray stays gray
# --------------------------------------------------------------------------

VALUE_STEPS = {
    "gaussian": lambda x: F.gaussian_blur(x, 2),
    "uniform": lambda x: F.uniform_blur(x, 5),
    "median": lambda x: F.median_blur(x, 3),
    "edges_per_channel": lambda x: F.edges(x, channel_mode="per_channel"),
    "kernel": lambda x: F.convolve_kernel(x, F.KERNEL_PRESETS["sharpen"]),
    "circle": lambda x: F.circular_mask(x, 0.8),
    "rows": lambda x: F.blank_rows(x, 5, 20),
    "equalize": F.equalize_hist,
    "equalize_per_channel": lambda x: F.equalize_hist(x, channel_mode="per_channel"),
    "clahe": F.equalize_clahe,
    "saturation": lambda x: F.adjust_saturation(x, 2),
    "curve": lambda x: F.tone_curve(x, F.CURVE_PRESETS["s_curve"]),
    "look": lambda x: F.apply_look(x, "juno"),
    "noise": lambda x: F.add_salt_pepper_noise(x, 0.1, random_state=0),
}


@pytest.mark.parametrize("name", sorted(VALUE_STEPS))
def test_value_steps_keep_alpha_and_layout(name, rgba, gray):
    fn = VALUE_STEPS[name]
    out = fn(rgba)
    assert out.shape == rgba.shape and out.dtype == np.float32
    assert np.array_equal(out[..., 3], rgba[..., 3])
    # colour channels of RGBA are treated as the RGB photo would be
    assert np.allclose(out[..., :3], fn(np.ascontiguousarray(rgba[..., :3])), atol=1e-6)
    g = fn(gray)
    assert g.shape == gray.shape and 0 <= g.min() and g.max() <= 1


@pytest.mark.parametrize("name", sorted(VALUE_STEPS))
def test_value_steps_accept_uint8_and_uint16(name, astro_u8):
    fn = VALUE_STEPS[name]
    u8 = astro_u8[::4, ::4]
    u16 = u8.astype(np.uint16) * 257  # same picture in 16 bits
    a, b = fn(u8), fn(u16)
    assert a.dtype == b.dtype == np.float32
    assert np.abs(a - b).max() < 1e-4


# --------------------------------------------------------------------------
# helpers for the page
# --------------------------------------------------------------------------


def test_absolute_difference_and_histograms(rgb, gray):
    diff = F.absolute_difference(rgb, F.flip_lr(rgb), gain=2)
    assert diff.shape == rgb.shape
    assert np.allclose(diff, np.clip(2 * np.abs(rgb - rgb[:, ::-1]), 0, 1), atol=1e-6)
    assert F.absolute_difference(rgb, rgb).max() == 0
    assert F.absolute_difference(gray, gray[..., None].repeat(3, 2)).shape == gray.shape + (3,)
    with pytest.raises(ValueError, match="different sizes"):
        F.absolute_difference(rgb, F.crop(rgb, 0.1))
    hist = F.channel_histograms(F.to_uint8(rgb))
    assert set(hist) == {"red", "green", "blue"}
    ref, _ = np.histogram(F.to_uint8(rgb)[..., 1], bins=256, range=(0, 256))
    assert np.array_equal(hist["green"], ref)
    assert F.channel_histograms(gray, bins=16)["gray"].sum() == gray.size


def test_psnr():
    a = np.zeros((10, 10))
    assert F.psnr(a, a) == float("inf")
    assert F.psnr(a, np.full((10, 10), 0.01)) == pytest.approx(40.0)


# --------------------------------------------------------------------------
# documentation and purity
# --------------------------------------------------------------------------


#: The modules of single-image filters, by kind (the pipeline and batch build on them).
FILTER_MODULES = ("convert", "blur", "kernels", "geometry", "masks", "exposure", "colour", "noise", "compare")
PACKAGE_MODULES = FILTER_MODULES + ("pipeline", "batch")


def _module(name: str):
    return importlib.import_module(f"core.filters.{name}")


def test_docstring_examples_run():
    attempted = 0
    for name in FILTER_MODULES:
        result = doctest.testmod(_module(name), optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert result.failed == 0, name
        attempted += result.attempted
    assert attempted > 20


def test_every_public_function_is_documented():
    for module in map(_module, FILTER_MODULES):
        for name in module.__all__:
            obj = getattr(module, name)
            if callable(obj) and not isinstance(obj, type):
                assert "Examples" in (obj.__doc__ or ""), f"{module.__name__}.{name}"


def test_the_package_exports_every_public_name_of_its_modules():
    exported = set(F.__all__)
    for name in PACKAGE_MODULES:
        module = _module(name)
        for public in module.__all__:
            assert public in exported, f"{name}.{public} is not in core.filters.__all__"
            assert getattr(F, public) is getattr(module, public), public
    assert len(F.__all__) == len(exported)  # no name listed twice
    assert exported == {n for name in PACKAGE_MODULES for n in _module(name).__all__}  # and nothing else
    assert callable(F.edges)  # the function, not a module of the same name


def test_the_package_docstring_lists_each_module_with_its_public_names():
    listed = dict(re.findall(r"^- :mod:`core\.filters\.(\w+)`: (.*)$", F.__doc__, flags=re.MULTILINE))
    assert list(listed) == list(PACKAGE_MODULES)
    for name, names in listed.items():
        assert names.split(", ") == list(_module(name).__all__), name


def test_filter_modules_build_only_on_convert():
    """A kind of filter (blur, colour...) may use the shared helpers, never another kind."""
    for name in FILTER_MODULES:
        tree = ast.parse(Path(_module(name).__file__).read_text())
        siblings = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1}
        assert siblings <= ({None} if name == "convert" else {"convert"}), (name, siblings)


def test_core_does_not_import_streamlit():
    code = "import sys; import core.filters; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
