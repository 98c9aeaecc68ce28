"""core.filters.batch: a pipeline applied to real photos, written to one ZIP."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.filters.batch import BatchResult, apply_to_files, encode_image, zip_name
from core.filters.pipeline import Pipeline, Step

BLUR_THEN_GRAY = Pipeline([Step("gaussian_blur", {"sigma": 2.0}), Step("grayscale")])


@pytest.fixture
def photos(data_dir: Path) -> list[Path]:
    folder = data_dir / "photos-imagenet-coarse6" / "images" / "landscape"
    files = sorted(folder.glob("*.JPEG"))[:4]
    assert len(files) == 4
    return files


@pytest.fixture
def broken(photos: list[Path], tmp_path: Path) -> Path:
    """The first half of a real JPEG: a truncated file."""
    data = photos[0].read_bytes()
    path = tmp_path / "broken_half.jpg"
    path.write_bytes(data[: len(data) // 2])
    return path


def _size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        return ImageOps.exif_transpose(img).size


def _images(zf: zipfile.ZipFile) -> list[str]:
    return [n for n in zf.namelist() if n.endswith((".png", ".jpg"))]


def test_png_zip_has_every_good_photo_at_full_size_and_lists_the_broken_one(photos, broken):
    files = [photos[0], broken, *photos[1:]]
    calls: list[tuple[int, int]] = []
    result = apply_to_files(BLUR_THEN_GRAY, files, progress=lambda d, t, m: calls.append((d, t)))

    assert isinstance(result, BatchResult) and result.data is not None and result.path is None
    assert result.total == 5 and result.done == 5 and not result.cancelled
    assert [f for f, _ in result.failures] == ["broken_half.jpg"]
    assert "truncated" in result.failures[0][1]
    assert calls[0] == (0, 5) and calls[-1] == (5, 5)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)

    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        names = _images(zf)
        assert names == [p.stem + ".png" for p in photos]
        assert [name for _, name in result.written] == names
        for source, name in zip(photos, names):
            with Image.open(io.BytesIO(zf.read(name))) as img:
                img.load()
                assert img.format == "PNG"
                assert img.size == _size(source)
                assert img.mode == "L"  # the grayscale step
        assert Pipeline.from_json(zf.read("pipeline.json")) == BLUR_THEN_GRAY
        assert "broken_half.jpg: truncated" in zf.read("failures.txt").decode()


def test_png_pixels_equal_a_full_resolution_render(photos):
    from core.image.io import load_image

    result = apply_to_files(BLUR_THEN_GRAY, photos[:1])
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        got = np.asarray(Image.open(io.BytesIO(zf.read(_images(zf)[0]))))
    np.testing.assert_array_equal(got, BLUR_THEN_GRAY.render(load_image(photos[0])))


def test_jpeg_to_a_file(photos, tmp_path):
    target = tmp_path / "out" / "result.zip"
    result = apply_to_files(Pipeline([Step("flip_lr")]), photos, target, fmt="jpeg", quality=80)
    assert result.path == target and result.data is None
    assert not result.failures
    assert [p.name for p in target.parent.iterdir()] == ["result.zip"]  # no temporary left
    with zipfile.ZipFile(target) as zf:
        names = _images(zf)
        assert names == [p.stem + ".jpg" for p in photos]
        for source, name in zip(photos, names):
            with Image.open(io.BytesIO(zf.read(name))) as img:
                assert img.format == "JPEG" and img.mode == "RGB"
                assert img.size == _size(source)


def test_cancel_stops_early_and_keeps_finished_photos(photos):
    asked = 0

    def cancel() -> bool:
        nonlocal asked
        asked += 1
        return asked > 2  # let two photos through

    calls: list[tuple[int, int]] = []
    result = apply_to_files(BLUR_THEN_GRAY, photos, cancel=cancel, progress=lambda d, t, m: calls.append((d, t)))
    assert result.cancelled
    assert result.done == 2 and result.total == 4
    assert calls[-1] == (2, 4)
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        assert _images(zf) == [p.stem + ".png" for p in photos[:2]]


def test_interrupted_run_leaves_no_file(photos, tmp_path):
    class Stop(BaseException):  # like Streamlit's rerun exception
        pass

    def progress(done: int, total: int, message: str) -> None:
        if done == 2:
            raise Stop

    target = tmp_path / "result.zip"
    with pytest.raises(Stop):
        apply_to_files(BLUR_THEN_GRAY, photos, target, progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_repeated_names_are_made_unique_and_missing_files_reported(photos, tmp_path):
    files = [photos[0], photos[1], photos[2], tmp_path / "gone.jpg"]
    labels = ["a/photo.jpg", "b/photo.jpg", "B/PHOTO.jpeg", "gone.jpg"]
    result = apply_to_files(Pipeline([Step("flip_ud")]), files, labels=labels)
    assert [n for _, n in result.written] == ["photo.png", "photo-2.png", "PHOTO-3.png"]
    assert result.failures == [("gone.jpg", "file not found")]


def test_a_step_that_cannot_run_on_a_photo_is_a_failure(photos):
    pipe = Pipeline([Step("crop_pixels", {"left": 5000})])  # wider than every photo
    result = apply_to_files(pipe, photos[:2])
    assert not result.written and len(result.failures) == 2
    assert all("Crop (pixels)" in reason for _, reason in result.failures)


def test_bad_arguments_are_refused(photos):
    with pytest.raises(ValueError, match="format"):
        apply_to_files(BLUR_THEN_GRAY, photos, fmt="gif")
    with pytest.raises(ValueError, match="quality"):
        apply_to_files(BLUR_THEN_GRAY, photos, fmt="jpeg", quality=0)
    with pytest.raises(ValueError, match="labels"):
        apply_to_files(BLUR_THEN_GRAY, photos, labels=["one"])


def test_encode_rgba_as_jpeg_flattens_onto_white():
    rgba = np.zeros((2, 2, 4), np.uint8)  # fully transparent black
    img = Image.open(io.BytesIO(encode_image(rgba, "jpeg")))
    assert img.mode == "RGB" and min(img.getpixel((0, 0))) > 240


def test_zip_name_keeps_unicode_and_drops_unsafe_characters():
    taken: set[str] = set()
    assert zip_name("café «été».jpg", ".png", taken) == "café «été».png"
    assert zip_name('x:y*z?.jpg', ".png", taken) == "x_y_z_.png"
    assert zip_name("pipeline.json", ".json", taken) == "pipeline-2.json"
