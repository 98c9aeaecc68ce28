"""core.filters.batch: a pipeline applied to real photos, written to one ZIP, as a core.jobs job."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps

from core.filters.batch import BatchRequest, BatchResult, ZipWriteError, encode_image, run_batch, zip_name
from core.filters.pipeline import Pipeline, Step
from core.jobs import Cancelled, JobError

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
    result = run_batch(BatchRequest(BLUR_THEN_GRAY, files), progress=lambda d, t, m: calls.append((d, t)))

    assert isinstance(result, BatchResult) and result.data is not None and result.path is None
    assert result.total == 5 and result.done == 5
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

    result = run_batch(BatchRequest(BLUR_THEN_GRAY, photos[:1]))
    with zipfile.ZipFile(io.BytesIO(result.data)) as zf:
        got = np.asarray(Image.open(io.BytesIO(zf.read(_images(zf)[0]))))
    np.testing.assert_array_equal(got, BLUR_THEN_GRAY.render(load_image(photos[0])))


def test_jpeg_to_a_file(photos, tmp_path):
    target = tmp_path / "out" / "result.zip"
    result = run_batch(BatchRequest(Pipeline([Step("flip_lr")]), photos, target, fmt="jpeg", quality=80))
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


def _cancel_after(n: int):
    """A ``cancel()`` that lets ``n`` photos through."""
    asked = 0

    def cancel() -> bool:
        nonlocal asked
        asked += 1
        return asked > n

    return cancel


def test_cancel_raises_and_leaves_no_partial_zip(photos, tmp_path):
    target = tmp_path / "out" / "result.zip"
    calls: list[tuple[int, int]] = []
    with pytest.raises(Cancelled):
        run_batch(BatchRequest(BLUR_THEN_GRAY, photos, target), cancel=_cancel_after(2),
                  progress=lambda d, t, m: calls.append((d, t)))
    assert calls == [(0, 4), (1, 4), (2, 4)]  # it stopped before the third photo
    assert list(target.parent.iterdir()) == []  # no ZIP, no temporary file

    with pytest.raises(Cancelled):  # in memory: nothing comes back
        run_batch(BatchRequest(BLUR_THEN_GRAY, photos), cancel=_cancel_after(0))


def test_a_cancelled_run_keeps_the_previous_zip(photos, tmp_path):
    target = tmp_path / "result.zip"
    run_batch(BatchRequest(Pipeline([Step("flip_ud")]), photos[:1], target))
    before = target.read_bytes()
    with pytest.raises(Cancelled):
        run_batch(BatchRequest(BLUR_THEN_GRAY, photos, target), cancel=_cancel_after(1))
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["result.zip"]


def test_interrupted_run_leaves_no_file(photos, tmp_path):
    class Stop(BaseException):  # like Streamlit's rerun exception
        pass

    def progress(done: int, total: int, message: str) -> None:
        if done == 2:
            raise Stop

    target = tmp_path / "result.zip"
    with pytest.raises(Stop):
        run_batch(BatchRequest(BLUR_THEN_GRAY, photos, target), progress=progress)
    assert list(tmp_path.iterdir()) == []


def test_repeated_names_are_made_unique_and_missing_files_reported(photos, tmp_path):
    files = [photos[0], photos[1], photos[2], tmp_path / "gone.jpg"]
    labels = ["a/photo.jpg", "b/photo.jpg", "B/PHOTO.jpeg", "gone.jpg"]
    result = run_batch(BatchRequest(Pipeline([Step("flip_ud")]), files, labels=labels))
    assert [n for _, n in result.written] == ["photo.png", "photo-2.png", "PHOTO-3.png"]
    assert result.failures == [("gone.jpg", "file not found")]


def test_a_step_that_cannot_run_on_a_photo_is_a_failure(photos):
    pipe = Pipeline([Step("crop_pixels", {"left": 5000})])  # wider than every photo
    result = run_batch(BatchRequest(pipe, photos[:2]))
    assert not result.written and len(result.failures) == 2
    assert all("Crop (pixels)" in reason for _, reason in result.failures)


def test_bad_requests_are_refused_before_any_photo_is_read(photos):
    with pytest.raises(ValueError, match="format"):
        BatchRequest(BLUR_THEN_GRAY, photos, fmt="gif")
    with pytest.raises(ValueError, match="quality"):
        BatchRequest(BLUR_THEN_GRAY, photos, fmt="jpeg", quality=0)
    with pytest.raises(ValueError, match="labels"):
        BatchRequest(BLUR_THEN_GRAY, photos, labels=["one"])
    with pytest.raises(ValueError, match="Pipeline"):
        BatchRequest(BLUR_THEN_GRAY.to_json(), photos)  # text is parsed first, with Pipeline.parse


def test_a_zip_that_cannot_be_written_is_a_job_error(photos, tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the ZIP's folder should be")
    with pytest.raises(ZipWriteError, match="The ZIP could not be written") as caught:
        run_batch(BatchRequest(BLUR_THEN_GRAY, photos[:1], blocker / "result.zip"))
    assert isinstance(caught.value, JobError) and isinstance(caught.value, OSError)
    assert [p.name for p in tmp_path.iterdir()] == ["not-a-folder"]


def test_a_request_from_an_archive_catalogue(data_dir, tmp_path):
    """What the page and a command line do: an archive's photos, in catalogue order, named by their files."""
    from core.archive.catalogue import load_folder

    archive = load_folder(data_dir / "photos-imagenet-coarse6" / "images" / "landscape")
    request = BatchRequest.from_catalogue(Pipeline.parse(Pipeline([Step("flip_lr")]).to_query()),
                                          archive.catalogue, tmp_path / "all.zip", fmt="jpeg", limit=3)
    assert request.files == tuple(Path(p) for p in archive.catalogue["path"][:3])
    assert request.labels == tuple(archive.catalogue["file"][:3])
    result = run_batch(request)
    with zipfile.ZipFile(result.path) as zf:
        assert _images(zf) == [Path(f).stem + ".jpg" for f in request.labels]
    assert len(BatchRequest.from_catalogue(BLUR_THEN_GRAY, archive.catalogue).files) == archive.n_images


def test_encode_rgba_as_jpeg_flattens_onto_white():
    rgba = np.zeros((2, 2, 4), np.uint8)  # fully transparent black
    img = Image.open(io.BytesIO(encode_image(rgba, "jpeg")))
    assert img.mode == "RGB" and min(img.getpixel((0, 0))) > 240


def test_zip_name_keeps_unicode_and_drops_unsafe_characters():
    taken: set[str] = set()
    assert zip_name("café «été».jpg", ".png", taken) == "café «été».png"
    assert zip_name('x:y*z?.jpg', ".png", taken) == "x_y_z_.png"
    assert zip_name("pipeline.json", ".json", taken) == "pipeline-2.json"
