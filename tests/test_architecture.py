"""The layout the README promises: capability packages with public verbs, and arrows that go one way.

pages -> ui -> core; the command line (cli/) and the benches call core only;
core never imports Streamlit, and never a heavy library at import time.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ["archive", "image", "filters", "explore", "faces", "mosaic", "forecast", "batch"]


def _imports(path: Path) -> set[str]:
    """Absolute module names a file imports (relative imports resolved against its package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(REPO).with_suffix("").parts[:-1])
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                found.add(".".join([*base, *([node.module] if node.module else [])]))
            else:
                found.add(node.module or "")
    return found


def _files(folder: str) -> list[Path]:
    return sorted((REPO / folder).rglob("*.py"))


@pytest.mark.parametrize("folder, forbidden", [
    ("core", ("streamlit", "ui", "app_pages", "cli")),
    ("ui", ("app_pages", "cli")),
    ("cli", ("streamlit", "ui", "app_pages")),
    ("bench", ("ui", "app_pages")),
])
def test_arrows_go_one_way(folder: str, forbidden: tuple[str, ...]):
    wrong = [f"{path.relative_to(REPO)} imports {name}" for path in _files(folder) for name in _imports(path)
             if name.split(".")[0] in forbidden]
    assert not wrong, wrong


def test_core_imports_no_heavy_library_at_import_time():
    code = ("import sys, core, core.jobs, core.cache, core.links, core.modelfiles\n"
            + "".join(f"import core.{name}\n" for name in PACKAGES)
            # OpenCV is left out: core.filters takes its fast path at import (about 0.1 s).
            + "print(sorted(m for m in ('streamlit', 'tensorflow', 'keras', 'mediapipe', 'dlib', 'lap', 'pulp', "
              "'openTSNE', 'plotly', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


@pytest.mark.parametrize("name", PACKAGES)
def test_each_package_lists_its_public_verbs(name: str):
    package = importlib.import_module(f"core.{name}")
    modules = [info.name for info in pkgutil.iter_modules(package.__path__) if not info.ispkg]
    exported = list(package.__all__)
    assert len(exported) == len(set(exported)), "a name is exported by two modules: one concept, one owner"
    listed = dict(re.findall(rf"^- :mod:`core\.{name}\.(\w+)`: (.*)$", package.__doc__, re.M))
    assert sorted(listed) == sorted(modules), "the docstring lists every module of the package"
    for module_name in modules:
        module = importlib.import_module(f"core.{name}.{module_name}")
        # A function named like its module would hide the module on the package.
        assert getattr(package, module_name) is module, f"core.{name}.{module_name} is hidden by a name"
        assert listed[module_name].split(", ") == list(module.__all__)
        for verb in module.__all__:
            assert getattr(package, verb) is getattr(module, verb), f"core.{name}.{verb}"


def test_one_cancel_class_and_typed_errors():
    from core import jobs

    cancel_classes = [f"{path.relative_to(REPO)}: {node.name}" for path in _files("core")
                      for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
                      if isinstance(node, ast.ClassDef) and "Cancel" in node.name]
    assert cancel_classes == ["core/jobs.py: Cancelled"]
    assert issubclass(jobs.WeightsUnavailableError, jobs.JobError)
    # The UI tells errors apart by type: no page or ui module matches an error's words.
    for path in _files("ui") + _files("app_pages"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"in str\((exc|err|error|e)\)|in (failure|message|outcome\.error)\b", text), path
