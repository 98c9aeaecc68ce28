"""Arguments and options that several subcommands share (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["ArchiveArg", "JsonOpt"]

#: The archive a command works on: a folder or a ZIP file (checked by core, so a missing one exits with 1).
ArchiveArg = Annotated[Path, typer.Argument(
    metavar="ARCHIVE", show_default=False,
    help="The archive: a folder or a ZIP file (Instaloader dump, Instagram export, CSV manifest, plain photos).")]

#: ``--json``: the result as one JSON document on stdout.
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print the result as one JSON document on stdout (progress and warnings stay on stderr).")]
