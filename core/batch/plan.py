"""Cut the photos of one or more imported archives into chunks of work (plain, picklable data)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["STEPS", "Chunk", "plan_batch"]

#: The per-photo steps a chunk can run, in the order they run (``import`` is the driver's own step).
STEPS = ("thumbnails", "features", "faces")


@dataclass(frozen=True)
class Chunk:
    """One task: some photos of one archive and the steps to run on them.

    Attributes
    ----------
    archive : str
        The archive's root folder (where its photos live).
    photos : tuple of (sha256, path, file)
        Distinct photos (by sha256): content hash, absolute path, and the name shown to the user.
    steps : tuple of str
        Some of :data:`STEPS`, in their order.
    number : int
        The chunk's position in the plan (for messages).
    """

    archive: str
    photos: tuple[tuple[str, str, str], ...]
    steps: tuple[str, ...]
    number: int = 0

    def split(self) -> list["Chunk"]:
        """One chunk per photo (to find the photo that brings a worker down)."""
        return [Chunk(self.archive, (photo,), self.steps, self.number) for photo in self.photos]


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
