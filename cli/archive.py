"""``feedlens import``: import an archive (or a professional account through the Instagram API) and report it."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.archive import ArchiveError

from .options import JsonOpt
from .runner import InputError, archive_summary, command
from .text import count

__all__ = ["import_archive"]

#: Like :data:`cli.options.ArchiveArg`, but optional: ``--instagram`` needs no archive.
OptionalArchiveArg = Annotated[Optional[Path], typer.Argument(
    metavar="[ARCHIVE]", show_default=False,
    help="The archive: a folder or a ZIP file (Instaloader dump, Instagram export, CSV manifest, plain photos). "
         "Leave out with --instagram.")]
InstagramOpt = Annotated[bool, typer.Option(
    "--instagram",
    help="Fetch your professional account's posts through the Instagram API (Instagram Login) into the cache, "
         "then import them. The long-lived token is read from FEEDLENS_INSTAGRAM_TOKEN, else asked for "
         "(hidden); it is never an argument, so it stays out of the shell history.")]
InsightsOpt = Annotated[bool, typer.Option(
    "--insights", help="With --instagram: also fetch each post's insights (reach, saved, shares, views, "
                       "total_interactions; needs instagram_business_manage_insights).")]
MaxPostsOpt = Annotated[Optional[int], typer.Option(
    "--max-posts", min=1, show_default=False, help="With --instagram: fetch at most this many posts (newest first).")]


def _token() -> str:
    """The token from FEEDLENS_INSTAGRAM_TOKEN, else a hidden prompt on a terminal."""
    from core.archive.instagram_api import TOKEN_ENV

    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if sys.stdin.isatty():
        return typer.prompt("Instagram access token", hide_input=True, err=True).strip()
    raise InputError(f"No Instagram access token: set {TOKEN_ENV} (the token is never read from the command line).")


def _report(run, arch, fetched=None) -> None:
    problems = arch.problems.fillna("")
    known = int(arch.catalogue["likes"].notna().sum()) if len(arch.catalogue) else 0
    lines = [f"{arch.name} ({arch.root})"]
    if fetched is not None:
        lines.append(f"  Instagram API: {count(fetched.posts, 'post')} listed on {count(fetched.pages, 'page')}, "
                     f"{fetched.images_downloaded} images downloaded, {fetched.images_kept} already here"
                     + (f", waited {fetched.waited_seconds:.0f} s for rate limits" if fetched.waited_seconds else ""))
        lines += [f"  warning  {p}" for p in fetched.problems]
    lines += [
        f"  {count(arch.n_posts, 'post')}, {count(arch.n_images, 'photo')}"
        + (f", {count(arch.videos_skipped, 'video')} skipped (thumbnails kept)" if arch.videos_skipped else ""),
        f"  formats: {', '.join(arch.formats) or 'none recognised'}",
        f"  likes known for {known} of {count(arch.n_images, 'photo')}",
    ]
    if len(problems):
        lines.append(f"{count(len(problems), 'problem')}:")
        lines += [f"  {r.level:<8} {r.file}: {r.problem} ({r.action})" for r in problems.itertuples()]
    else:
        lines.append("No problems.")
    result = {"archive": archive_summary(arch), "likes_known_photos": known, "problems": problems.to_dict("records")}
    if fetched is not None:
        result["instagram"] = {"account": fetched.account, "pages": fetched.pages, "posts": fetched.posts,
                               "images_downloaded": fetched.images_downloaded, "images_kept": fetched.images_kept,
                               "waited_seconds": fetched.waited_seconds, "problems": fetched.problems}
    run.done(result, "\n".join(lines))


def _import_instagram(run, insights: bool, max_posts: int | None) -> None:
    from core.archive.catalogue import load_folder
    from core.archive.instagram_api import MANIFEST, FetchRequest, InstagramApiError, fetch_instagram

    request = FetchRequest(token=_token(), insights=insights, max_posts=max_posts)
    try:
        fetched = run.job("Fetching from the Instagram API", fetch_instagram, request)
    except InstagramApiError as exc:
        if exc.result is not None and (exc.result.folder / MANIFEST).is_file():  # what was fetched is imported
            kept = run.job("Importing what was fetched", load_folder, exc.result.folder,
                           name=f"Instagram API @{exc.result.account}")
            _report(run, kept, exc.result)
        raise
    arch = run.job("Importing", load_folder, fetched.folder, name=f"Instagram API @{fetched.account}")
    _report(run, arch, fetched)
    if arch.n_images == 0:
        raise ArchiveError(f"@{fetched.account}: the API listed no photo")


def import_archive(archive: OptionalArchiveArg = None, instagram: InstagramOpt = False,
                   insights: InsightsOpt = False, max_posts: MaxPostsOpt = None,
                   json_output: JsonOpt = False) -> None:
    """Import a folder or ZIP (or, with --instagram, your professional account) into the cache.

    Files that cannot be used (broken images, refused ZIP members, bad JSON)
    are listed and the rest is imported; the exit code is 0 unless no photo at
    all could be imported (1). With --instagram, an expired token or a
    persistent rate limit exits with 1 after importing what was fetched; a
    rerun downloads only what is missing.
    """
    if (archive is None) == (not instagram):
        raise typer.BadParameter("give either an ARCHIVE or --instagram", param_hint="ARCHIVE")
    if not instagram and (insights or max_posts is not None):
        raise typer.BadParameter("--insights and --max-posts go with --instagram", param_hint="--insights")
    with command(json_output) as run:
        if instagram:
            _import_instagram(run, insights, max_posts)
            return
        arch = run.open_archive(archive, need_photos=False)
        _report(run, arch)
        if arch.n_images == 0:
            problems = arch.problems
            raise ArchiveError(f"{arch.root}: no photo could be imported ({count(len(problems), 'problem')} listed)")
