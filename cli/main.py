"""The ``feedlens`` command: Typer app and its subcommands.

Each subcommand is a plain function in a module of this package, registered
here in one line; it calls ``core`` only (never ``ui`` or Streamlit) through
:func:`cli.runner.command`, which gives it the archive, progress bars, Ctrl-C,
``--json`` and the exit codes. To add one: write the function (see
:mod:`cli.faces` for a short example) and add an ``app.command(...)`` line.
"""

from __future__ import annotations

import os

# Quieter heavy libraries: TensorFlow's and MediaPipe's C++ start-up logs would
# bury the progress lines on stderr. Set before any of them is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("GLOG_minloglevel", "2")

import typer  # noqa: E402

from . import archive, batch, explore, faces, filters, forecast, mosaic  # noqa: E402
from .options import CacheOpt  # noqa: E402
from .runner import use_cache  # noqa: E402

__all__ = ["app", "main"]

app = typer.Typer(
    name="feedlens",
    help="Feedlens from a terminal: import an Instagram archive (folder or ZIP) and run the app's analyses on it. "
         "Results go to the cache the app reads (FEEDLENS_CACHE_DIR). Exit codes: 0 done, 1 bad archive, photo, "
         "pipeline or missing model, 2 bad arguments, 3 some photos failed (batch), 130 stopped by Ctrl-C.",
    no_args_is_help=True,
    add_completion=False,
    # Plain Click messages: a usage error is "Error: ..." on one line, no boxes.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@app.callback()
def _every_command(cache: CacheOpt = None) -> None:
    # `feedlens --cache s3://bucket/prefix COMMAND ...`: any command's cache (`feedlens batch` also takes it after).
    use_cache(cache)


app.command("import")(archive.import_archive)
app.command("features")(explore.features)
app.command("map")(explore.map_archive)
app.command("faces")(faces.faces)
app.command("people")(faces.people)
app.command("train")(forecast.train)
app.command("forecast")(forecast.forecast)
app.command("filter")(filters.filter_archive)
app.command("mosaic")(mosaic.mosaic)
app.command("batch")(batch.batch)


def main() -> None:
    """Run the command line (``python -m cli``)."""
    app(prog_name="feedlens")
