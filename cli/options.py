"""Arguments and options that several subcommands share (one definition, one help text)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

__all__ = ["ArchiveArg", "CacheOpt", "JsonOpt"]

#: The archive a command works on: a folder or a ZIP file (checked by core, so a missing one exits with 1).
ArchiveArg = Annotated[Path, typer.Argument(
    metavar="ARCHIVE", show_default=False,
    help="The archive: a folder or a ZIP file (Instaloader dump, Instagram export, CSV manifest, plain photos).")]

#: ``--cache``: where results go (a folder, or an object-store URL); default FEEDLENS_CACHE_DIR.
CacheOpt = Annotated[Optional[str], typer.Option(
    "--cache", metavar="PATH_OR_URL", show_default=False,
    help="The cache results go to: a folder (shared by every worker for a cluster) or an object-store URL "
         "(s3://bucket/prefix; needs s3fs). Default: FEEDLENS_CACHE_DIR, else the user cache folder.")]

#: ``--json``: the result as one JSON document on stdout.
JsonOpt = Annotated[bool, typer.Option(
    "--json", help="Print the result as one JSON document on stdout (progress and warnings stay on stderr).")]
