"""Cut the photos of one or more imported archives into chunks of work (plain, picklable data)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["IMPORT", "STEPS", "Chunk", "plan_batch", "plan_import"]

#: The per-photo steps a chunk can run, in the order they run, once the archive is imported.
STEPS = ("thumbnails", "features", "faces")

#: The import's per-file stage (hash, validate, thumbnail: :func:`core.archive.ingest.ingest_file`), run
#: by the workers on files not imported yet; the only step of the chunks :func:`plan_import` cuts.
IMPORT = "import"


@dataclass(frozen=True)
class Chunk:
    """One task: some photos of one archive and the steps to run on them.

    Attributes
    ----------
    archive : str
        The archive's root folder (where its photos live).
    photos : tuple of (sha256, path, file)
        Distinct photos (by sha256): content hash, absolute path, and the name shown to the user
        (the file's path in the archive). An import chunk's photos are distinct files whose
        sha256 is not known yet (``""``).
    steps : tuple of str
        Some of :data:`STEPS`, in their order; or ``(IMPORT,)``.
    number : int
        The chunk's position in the plan (for messages).
    rerun : bool
        The archive was batched before: results of the photos may be stored under another chunking
        (a rerun with another ``--chunk``), so the workers look beyond the chunk's own pack.
    """

    archive: str
    photos: tuple[tuple[str, str, str], ...]
    steps: tuple[str, ...]
    number: int = 0
    rerun: bool = False

    def split(self) -> list["Chunk"]:
        """One chunk per photo (to find the photo that brings a worker down)."""
        return [Chunk(self.archive, (photo,), self.steps, self.number, self.rerun) for photo in self.photos]


def plan_batch(archives: Iterable, steps: Sequence[str], chunk: int = 128) -> list[Chunk]:
    """Chunks of at most ``chunk`` distinct photos per archive, for the given steps.

    Parameters
    ----------
    archives : iterable of core.archive.Archive (or one Archive)
        Imported archives (their catalogues name the photos).
    steps : sequence of str
        Some of :data:`STEPS` (any order; run in the order of :data:`STEPS`).
    chunk : int
        Photos per chunk.

    Examples
    --------
    >>> import pandas as pd
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> cat = pd.DataFrame({"sha256": ["a1", "a1", "b2", "c3"], "path": ["/x/1.jpg", "/x/1.jpg", "/x/2.jpg", "/x/3.jpg"],
    ...                     "file": ["1.jpg", "1.jpg", "2.jpg", "3.jpg"]})
    >>> chunks = plan_batch(SimpleNamespace(root=Path("/x"), catalogue=cat), ["faces", "thumbnails"], chunk=2)
    >>> [len(c.photos) for c in chunks], chunks[0].steps
    ([2, 1], ('thumbnails', 'faces'))
    """
    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; expected some of {list(STEPS)}")
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    ordered = tuple(s for s in STEPS if s in steps)
    if hasattr(archives, "catalogue"):
        archives = [archives]
    chunks: list[Chunk] = []
    for archive in archives:
        catalogue = archive.catalogue
        if catalogue is None or len(catalogue) == 0:
            continue
        rows = catalogue[["sha256", "path", "file"]].dropna(subset=["sha256"]).drop_duplicates("sha256")
        photos = [(str(r.sha256), str(r.path), str(r.file)) for r in rows.itertuples(index=False)]
        for start in range(0, len(photos), chunk):
            chunks.append(Chunk(str(archive.root), tuple(photos[start : start + chunk]), ordered, len(chunks)))
    return chunks


def plan_import(plans: Iterable, chunk: int = 128, first: int = 0) -> list[Chunk]:
    """Import chunks: at most ``chunk`` files each, of the archives whose catalogue is not cached yet.

    Each chunk's only step is :data:`IMPORT`: its worker ingests the files
    (:func:`core.archive.ingest.ingest_plain`) and returns what it learned, from
    which the driver builds the catalogue (:func:`core.archive.finish_import`).

    Parameters
    ----------
    plans : iterable of core.archive.ImportPlan
        From :func:`core.archive.prepare_archive`; a plan with a cached catalogue has nothing to import.
    chunk : int
        Files per chunk.
    first : int
        The first chunk's number (numbers go on across a run's plans).

    Examples
    --------
    >>> from pathlib import Path
    >>> from types import SimpleNamespace
    >>> plan = SimpleNamespace(root=Path("/x"), files=["a.jpg", "b/c.jpg", "d.png"], cached=None)
    >>> chunks = plan_import([plan], chunk=2, first=5)
    >>> [(c.number, c.steps, [p[2] for p in c.photos]) for c in chunks]
    [(5, ('import',), ['a.jpg', 'b/c.jpg']), (6, ('import',), ['d.png'])]
    >>> chunks[0].photos[1]
    ('', '/x/b/c.jpg', 'b/c.jpg')
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    chunks: list[Chunk] = []
    for plan in plans:
        if plan.cached is not None:
            continue
        files = [("", str(plan.root / file), file) for file in plan.files]
        for start in range(0, len(files), chunk):
            chunks.append(Chunk(str(plan.root), tuple(files[start : start + chunk]), (IMPORT,),
                                first + len(chunks)))
    return chunks
