"""``feedlens import``: import an archive into the cache and report what was found."""

from __future__ import annotations

from core.archive import ArchiveError

from .options import ArchiveArg, JsonOpt
from .runner import archive_summary, command
from .text import count

__all__ = ["import_archive"]


def import_archive(archive: ArchiveArg, json_output: JsonOpt = False) -> None:
    """Import a folder or ZIP into the cache: counts, formats and every file's problem.

    Files that cannot be used (broken images, refused ZIP members, bad JSON)
    are listed and the rest is imported; the exit code is 0 unless no photo at
    all could be imported (1).
    """
    with command(json_output) as run:
        arch = run.open_archive(archive, need_photos=False)
        problems = arch.problems.fillna("")
        known = int(arch.catalogue["likes"].notna().sum()) if len(arch.catalogue) else 0
        lines = [
            f"{arch.name} ({arch.root})",
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
        run.done({"archive": archive_summary(arch), "likes_known_photos": known,
                  "problems": problems.to_dict("records")}, "\n".join(lines))
        if arch.n_images == 0:
            raise ArchiveError(f"{arch.root}: no photo could be imported ({count(len(problems), 'problem')} listed)")
