"""``feedlens mosaic``: rebuild a picture from the archive's photos, as the Mosaic page does, into a print file."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import ArchiveArg, JsonOpt
from .runner import InputError, archive_summary, command
from .text import count, number, table

__all__ = ["Method", "Solver", "mosaic"]


class Solver(str, Enum):
    """The exact placement's solver (:class:`core.mosaic.build.MosaicRequest`)."""

    auto = "auto"
    dense = "dense"
    sparse = "sparse"


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
    out: Annotated[Path, typer.Option("--out", "-o", show_default=False,
                                      help="The print file to write: .png, .tif or .jpg (drawn one row of tiles "
                                           "at a time, never whole in memory).")],
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
                                               help="Print resolution written into the file.")] = None,
    long_cm: Annotated[Optional[float], typer.Option(
        "--long-cm", min=1, max=500, show_default=False,
        help="Print size: the long side in centimetres at --dpi (300 by default), instead of --width/--height; "
             "100 cm at 300 dpi is 11,811 px.")] = None,
    solver: Annotated[Solver, typer.Option(
        "--solver", help="Exact placement: dense (the whole cost matrix), sparse (each tile's nearest photos, then "
                         "priced until proven optimal) or auto (sparse when the matrix would pass 1.2 GB).")
    ] = Solver.auto,
    k: Annotated[int, typer.Option("--k", min=1, max=1000, help="Sparse solver: nearest photos per tile to start "
                                                               "from.")] = 8,
    sparse_seconds: Annotated[Optional[float], typer.Option(
        "--sparse-seconds", min=0, show_default=False,
        help="Sparse solver: seconds it may price pairs outside the candidates (default 90); past them the "
             "placement is the best found, not proven optimal (0: the candidates' optimum alone).")] = None,
    adaptive: Annotated[bool, typer.Option(
        "--adaptive/--grid", help="Adaptive tiles: as many tiles as the grid, smaller on faces, people and "
                                  "detail, bigger elsewhere.")] = False,
    colour: Annotated[float, typer.Option(
        "--colour", min=0, max=100, help="Colour transfer towards each tile's cell, in per cent (0 = off). The "
                                         "report gives the amount from which the target shows through.")] = 0.0,
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
    if long_cm is not None and width is not None:
        raise typer.BadParameter("give --long-cm or --width/--height, not both", param_hint="--long-cm")
    from core.cache import sha256_bytes
    from core.image.io import ImageError, load_image
    from core.mosaic.build import SPARSE_SECONDS, TARGET_SIDE, MosaicRequest, build_mosaic, print_mosaic
    from core.mosaic.grid import MosaicError
    from core.mosaic.pool import tile_pool
    from core.mosaic.printing import physical_size, poster_pixels

    with command(json_output) as run:
        try:
            data = target.expanduser().read_bytes()
            picture = load_image(data, max_side=TARGET_SIDE)
        except OSError as exc:
            raise InputError(f"--target {target}: cannot be read ({exc.strerror or exc})") from None
        except ImageError as exc:
            raise InputError(f"--target {target}: {exc}") from None
        if out.suffix.lower() not in {".png", ".tif", ".tiff", ".jpg", ".jpeg"}:
            raise InputError(f"--out {out}: choose a .png, .tif or .jpg file")
        if long_cm is not None:
            dpi = dpi or 300
            width, height = poster_pixels(long_cm, dpi, picture.shape[1] / picture.shape[0])
        if sparse_seconds is None:
            sparse_seconds = SPARSE_SECONDS
        arch = run.open_archive(archive)
        pool = tile_pool(arch.catalogue, exclude=sha256_bytes(data))
        request = MosaicRequest(target=picture, shas=pool.shas, paths=pool.paths, rows=rows, cols=cols, reuse=reuse,
                                width=width, height=height, dpi=dpi, methods=(method.value,), weightings=(weighted,),
                                solver=solver.value, k=k, sparse_seconds=sparse_seconds,
                                adaptive=adaptive)
        result = run.job("Building the mosaic", build_mosaic, request)
        chosen = result.runs[0]
        try:
            run.job("Drawing the print file", print_mosaic, result, chosen, out, target=picture,
                    colour_amount=colour / 100)
        except OSError as exc:
            raise InputError(f"--out {out}: cannot be written ({exc.strerror or exc})") from None
        except MosaicError as exc:
            raise InputError(f"--out {out}: {exc}") from None
        curve = None
        if colour > 0:
            from core.mosaic.adaptive import cell_tiles
            from core.mosaic.colour import colour_curve
            from core.mosaic.grid import target_tiles
            from core.mosaic.pool import load_photo_tiles

            goal = (cell_tiles(picture, result.cells, result.rows, result.cols, result.score_px) if result.adaptive
                    else target_tiles(picture, result.rows, result.cols, result.score_px))
            photos = load_photo_tiles(result.shas, result.paths, result.score_px).tiles
            curve = colour_curve(goal, photos, chosen.photo_of_tile)
        for note in result.notes:
            run.warn(note)
        regions = {name: (None if value != value else value) for name, value in chosen.region_errors.items()}
        out_w, out_h = result.cols * result.tile_px, result.rows * result.tile_px
        size_cm = physical_size(out_w, out_h, result.dpi)
        grid = (f"{result.n_tiles:,} adaptive tiles ({result.rows} x {result.cols} units of {result.tile_px} px)"
                if result.adaptive else f"{result.rows} x {result.cols} tiles of {result.tile_px} px")
        lines = [f"{out}: {out_w} x {out_h} px"
                 + (f" ({size_cm[0]:.1f} x {size_cm[1]:.1f} cm at {result.dpi} dpi)" if size_cm else "")
                 + f", {grid} from "
                 f"{count(len(result.shas), 'photo')} (each at most {result.reuse} times); {chosen.label}.",
                 "Mean squared error per region (pixels in [0, 1]):",
                 table(["region", "MSE"], [[name, number(value, 5)] for name, value in regions.items()])]
        if chosen.solver == "sparse":
            lines.append(f"Sparse placement: {100 * chosen.bound_gap:.2f} % above the lower bound (each tile's "
                         "best photo, shared freely); " + ("proven optimal." if chosen.certified else
                         f"the best found in {sparse_seconds:g} s (--sparse-seconds), not proven optimal."))
        if curve is not None:
            lines.append(f"Colour transfer {colour:.0f} %: MSE {curve.mse[0]:.5f} -> {curve.mse_at(colour / 100):.5f}"
                         f" (on {curve.tiles_used:,} tiles); the target shows through from "
                         + (f"{100 * curve.cheat_amount:.0f} %." if curve.cheat_amount == curve.cheat_amount
                            else "no amount up to 100 %."))
        run.done({
            "archive": archive_summary(arch),
            "out": out,
            "width": out_w, "height": out_h, "dpi": result.dpi, "size_cm": size_cm,
            "rows": result.rows, "cols": result.cols, "tile_px": result.tile_px, "reuse": result.reuse,
            "tiles": result.n_tiles, "adaptive": result.adaptive, "solver": chosen.solver,
            "certified": chosen.certified,
            "lower_bound": None if chosen.lower_bound != chosen.lower_bound else chosen.lower_bound,
            "objective": chosen.objective,
            "colour": None if curve is None else {
                "amount": colour / 100, "mse_without": float(curve.mse[0]), "mse_with": curve.mse_at(colour / 100),
                "cheat_amount": None if curve.cheat_amount != curve.cheat_amount else curve.cheat_amount},
            "photos": len(result.shas), "left_out": result.left_out,
            "method": chosen.method, "weighted": chosen.weighted, "uniform_reason": result.uniform_reason,
            "faces": result.n_faces, "region_errors": regions, "seconds": chosen.seconds, "notes": result.notes,
        }, "\n".join(lines))
