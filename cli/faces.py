"""``feedlens faces`` and ``feedlens people``: the Faces page's index and people, from a terminal."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from .options import ArchiveArg, JsonOpt
from .runner import InputError, Run, archive_summary, command
from .text import count, number, table

__all__ = ["faces", "people", "face_index"]


def face_index(run: Run, arch):
    """The archive's face index, finding faces in the photos not indexed yet.

    The face models are loaded only when some photo is still to be indexed.

    Raises
    ------
    core.jobs.ModelUnavailableError
        When a MediaPipe or dlib model file cannot be had.
    """
    from core.faces.engine import FaceEngine
    from core.faces.index import build_face_index, index_status, load_face_index

    done, total = index_status(arch.catalogue)
    if done >= total:
        return load_face_index(arch.catalogue)
    engine = run.step("Loading the face models (MediaPipe, dlib)", FaceEngine)
    return run.job("Finding faces", build_face_index, arch.catalogue, engine)


def _failures(index, catalogue) -> list[dict]:
    files = catalogue.drop_duplicates("sha256").set_index("sha256")["file"]
    return [{"file": files.get(sha, sha), "problem": message} for sha, message in index.failed.items()]


def faces(archive: ArchiveArg, json_output: JsonOpt = False) -> None:
    """Find every face in the archive's photos (the Faces page's index, cached per photo)."""
    with command(json_output) as run:
        arch = run.open_archive(archive)
        index = face_index(run, arch)
        failed = _failures(index, arch.catalogue)
        n_rec = len(index.recognisable)
        lines = [f"{count(len(index.faces), 'face')} ({n_rec} recognisable) in {count(index.n_photos, 'photo')}; "
                 f"{index.photos_without_faces} without faces."]
        if failed:
            lines.append(f"{count(len(failed), 'photo')} could not be read:")
            lines.append(table(["file", "problem"], [[f["file"], f["problem"]] for f in failed]))
        run.done({
            "archive": archive_summary(arch),
            "photos": index.n_photos,
            "indexed": index.n_done,
            "faces": len(index.faces),
            "recognisable": n_rec,
            "photos_without_faces": index.photos_without_faces,
            "failed": failed,
        }, "\n".join(lines))


def _parse_names(values: list[str]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        pid, sep, name = value.partition("=")
        if not sep or not pid.strip():
            raise typer.BadParameter(f"expected PERSON=NAME (e.g. p1=Anna), got {value!r}", param_hint="--name")
        pairs.append((pid.strip(), name))
    return pairs


def people(
    archive: ArchiveArg,
    name: Annotated[Optional[list[str]], typer.Option(
        "--name", metavar="PERSON=NAME", show_default=False,
        help="Name a person, e.g. --name p1=Anna (repeatable; an empty name removes it; a name given twice "
             "merges the two people, as on the Faces page).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Group the faces into people and list them, most often seen first, with their names.

    Photos not indexed yet are indexed first. Names are saved per archive,
    shared with the Faces page.
    """
    names = _parse_names(name or [])
    from core.faces.people import find_people, rename_person

    with command(json_output) as run:
        arch = run.open_archive(archive)
        index = face_index(run, arch)
        found = find_people(arch.catalogue, arch.key, index=index)
        if names:
            known = set(found.person_ids.values)
            unknown = [pid for pid, _ in names if pid not in known]
            if unknown:
                raise InputError(f"--name: no person {', '.join(unknown)} in this archive "
                                 f"(people: {', '.join(sorted(known)) or 'none'})")
            for pid, new_name in names:  # as the Faces page edits: one saved change at a time
                rename_person(found, pid, new_name)
                found = find_people(arch.catalogue, arch.key, index=index)
        book = found.book
        rows = [{"person_id": r.person_id, "name": r.name, "named": r.person_id in book.names,
                 "faces": int(r.n_faces), "photos": int(r.n_photos), "posts": int(r.n_posts),
                 "mean_likes": r.mean_likes} for r in found.table.itertuples()]
        if rows:
            text = (f"{count(len(rows), 'person', 'people')} in {count(len(index.recognisable), 'recognisable face')}:\n"
                    + table(["id", "name", "faces", "photos", "posts", "mean likes"],
                            [[r["person_id"], r["name"], r["faces"], r["photos"], r["posts"],
                              number(r["mean_likes"], 1)] for r in rows]))
        else:
            text = "No recognisable faces, so no people."
        run.done({"archive": archive_summary(arch), "people": rows,
                  "recognisable_faces": len(index.recognisable)}, text)
