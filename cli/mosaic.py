"""``feedlens mosaic``: rebuild a picture from the archive's photos, as the Mosaic page does, into a print file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import ArchiveArg, JsonOpt
from .runner import InputError, archive_summary, command
from .text import count, number, table

__all__ = ["Method", "mosaic"]


class Method(str, Enum):
    """Placement (:data:`core.mosaic.assignment.METHODS`)."""

    exact = "exact"
    greedy = "greedy"
    lp = "lp"


def mosaic(
    archive: ArchiveArg,
    target: Annotated[Path, typer.Option(
        "--target", "-t", show_default=False,
        help="The picture to rebuild: an image file (when it is one of the archive's photos it is left out of "
             "the tiles).")],
    out: Annotated[Path, typer.Option("--out", "-o", show_default=False, help="The PNG to write.")],
    method: Annotated[Method, typer.Option("--method", help="exact: the optimal placement (Jonker-Volgenant); "
                                                            "greedy: best match first; lp: the seed's PuLP "
                                                            "programme (slow; at most 2,500 tiles).")] = Method.exact,
    weighted: Annotated[bool, typer.Option(
        "--weighted/--uniform", help="Weight tiles on faces and people (MediaPipe) so they are matched best; "
                                     "uniform weights when none are found or the models are missing.")] = True,
    rows: Annotated[Optional[int], typer.Option("--rows", min=1, show_default=False,
                                                help="Grid rows (with --cols; default: planned from the photos).")] = None,
    cols: Annotated[Optional[int], typer.Option("--cols", min=1, show_default=False, help="Grid columns.")] = None,
    reuse: Annotated[Optional[int], typer.Option(
        "--reuse", min=1, max=50, show_default=False,
        help="Each photo may be used this many times (default: enough for about 400 tiles).")] = None,
    width: Annotated[Optional[int], typer.Option("--width", min=64, max=20000, show_default=False,
                                                 help="Output width in pixels (with --height; default: the "
                                                      "target's shape, 3000 px on the long side).")] = None,
    height: Annotated[Optional[int], typer.Option("--height", min=64, max=20000, show_default=False,
                                                  help="Output height in pixels.")] = None,
    dpi: Annotated[Optional[int], typer.Option("--dpi", min=30, max=1200, show_default=False,
                                               help="Print resolution written into the PNG.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Rebuild the target picture from the archive's photos and write it as a PNG at print size.

    The tiles are the archive's photos (each at most ``--reuse`` times); the
    report gives the mean error per region (faces, people, background), so
    face weighting can be judged against uniform weights.
    """
    if (rows is None) != (cols is None):
        raise typer.BadParameter("give both --rows and --cols, or neither", param_hint="--rows/--cols")
    if (width is None) != (height is None):
        raise typer.BadParameter("give both --width and --height, or neither", param_hint="--width/--height")
    from core.cache import sha256_bytes
    from core.image.io import ImageError, load_image
    from core.mosaic.build import TARGET_SIDE, MosaicRequest, build_mosaic, render_mosaic
    from core.mosaic.pool import tile_pool
    from core.mosaic.rendering import encode_png

    with command(json_output) as run:
        try:
            data = target.expanduser().read_bytes()
            picture = load_image(data, max_side=TARGET_SIDE)
        except OSError as exc:
            raise InputError(f"--target {target}: cannot be read ({exc.strerror or exc})") from None
        except ImageError as exc:
            raise InputError(f"--target {target}: {exc}") from None
        arch = run.open_archive(archive)
        pool = tile_pool(arch.catalogue, exclude=sha256_bytes(data))
        request = MosaicRequest(target=picture, shas=pool.shas, paths=pool.paths, rows=rows, cols=cols, reuse=reuse,
                                width=width, height=height, dpi=dpi, methods=(method.value,), weightings=(weighted,))
        result = run.job("Building the mosaic", build_mosaic, request)
        chosen = result.runs[0]
        image = run.job("Drawing the print file", render_mosaic, result, chosen)
        out.write_bytes(encode_png(image, dpi=result.dpi))
        for note in result.notes:
            run.warn(note)
        regions = {name: (None if value != value else value) for name, value in chosen.region_errors.items()}
        lines = [f"{out}: {image.shape[1]} x {image.shape[0]} px"
                 + (f" ({image.shape[1] / result.dpi * 2.54:.1f} x {image.shape[0] / result.dpi * 2.54:.1f} cm at "
                    f"{result.dpi} dpi)" if result.dpi else "")
                 + f", {result.rows} x {result.cols} tiles of {result.tile_px} px from "
                 f"{count(len(result.shas), 'photo')} (each at most {result.reuse} times); {chosen.label}.",
                 "Mean squared error per region (pixels in [0, 1]):",
                 table(["region", "MSE"], [[name, number(value, 5)] for name, value in regions.items()])]
        run.done({
            "archive": archive_summary(arch),
            "out": out,
            "width": int(image.shape[1]), "height": int(image.shape[0]), "dpi": result.dpi,
            "rows": result.rows, "cols": result.cols, "tile_px": result.tile_px, "reuse": result.reuse,
            "photos": len(result.shas), "left_out": result.left_out,
            "method": chosen.method, "weighted": chosen.weighted, "uniform_reason": result.uniform_reason,
            "faces": result.n_faces, "region_errors": regions, "seconds": chosen.seconds, "notes": result.notes,
        }, "\n".join(lines))
