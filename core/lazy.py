"""Lazy public verbs for the capability packages (PEP 562), after scikit-image's ``lazy_loader``.

``import core.mosaic`` must not import pandas, Pillow, SciPy or scikit-learn
for a caller that only wants :func:`core.mosaic.assignment.solve` (a mosaic
worker process, a benchmark, the command line's ``--help``). A package's
``__init__`` therefore names its modules and lets :func:`attach` find each
module's public names in its ``__all__``, read from the source without
importing it; a module is imported the first time one of its names is used.
"""

from __future__ import annotations

import ast
import importlib
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

__all__ = ["attach"]


def _public_names(path: Path) -> list[str]:
    """The ``__all__`` list of a module's source (a literal list of strings)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(target, ast.Name) and target.id == "__all__" for target in targets):
                return [str(ast.literal_eval(element)) for element in node.value.elts]
    raise ImportError(f"{path} has no literal __all__")


def attach(package: str, modules: Sequence[str]) -> tuple[Callable[[str], object], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` for the package ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    modules : sequence of str
        Its modules, in the order their verbs are listed.

    Examples
    --------
    >>> import core.mosaic, sys
    >>> "solve" in core.mosaic.__all__
    True
    >>> core.mosaic.solve.__module__
    'core.mosaic.assignment'
    """
    folder = Path(sys.modules[package].__file__).parent
    owner: dict[str, str] = {}
    for module in modules:
        for name in _public_names(folder / f"{module}.py"):
            owner.setdefault(name, module)

    def __getattr__(name: str) -> object:
        if name in modules:
            return importlib.import_module(f"{package}.{name}")
        if name in owner:
            value = getattr(importlib.import_module(f"{package}.{owner[name]}"), name)
            setattr(sys.modules[package], name, value)  # the next use is a plain attribute
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*owner, *modules})

    return __getattr__, __dir__, list(owner)
