"""The problem log: one row per file that could not be used as it was.

Importers never raise for a bad user file. They record what was wrong and what
was done about it, and go on with the rest of the archive.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import pandas as pd

__all__ = ["Problem", "ProblemLog", "PROBLEM_COLUMNS"]

PROBLEM_COLUMNS = ["file", "problem", "action", "level"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one file.

    Parameters
    ----------
    file : str
        Path of the file inside the archive (as the user knows it).
    problem : str
        What is wrong, in words a user understands.
    action : str
        What the importer did about it ("skipped", "first frame used", ...).
    level : {"error", "warning", "info"}
        ``error``: the file was not used. ``warning``: used, with a change.
        ``info``: nothing wrong, but worth knowing (a skipped video).
    """

    file: str
    problem: str
    action: str
    level: str = "error"


@dataclass
class ProblemLog:
    """An ordered collection of :class:`Problem` rows."""

    rows: list[Problem] = field(default_factory=list)

    def add(self, file: str, problem: str, action: str = "skipped", level: str = "error") -> None:
        """Record one problem."""
        self.rows.append(Problem(str(file), problem, action, level))

    def extend(self, other: "ProblemLog") -> None:
        """Append every row of another log."""
        self.rows.extend(other.rows)

    def __len__(self) -> int:
        return len(self.rows)

    def to_frame(self) -> pd.DataFrame:
        """Return the log as a DataFrame with :data:`PROBLEM_COLUMNS`."""
        return pd.DataFrame([asdict(p) for p in self.rows], columns=PROBLEM_COLUMNS)
