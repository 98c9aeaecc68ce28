"""Run benches on two versions of Feedlens side by side and print the ratio of every figure.

On a shared, noisy machine two benches run minutes apart are not comparable;
run back to back, alternately, they are. This script checks the base commit
out into a temporary git worktree, then runs each bench script ``--rounds``
times in each tree, alternating (base, head, base, head, ...), with the same
Python and environment, and reports for every figure the median over rounds
in each tree and ``head / base``.

Usage::

    .venv/bin/python bench/compare.py --base c7bd4e8 --rounds 2 \\
        "bench/ingest.py --runs 3" "bench/filters.py --runs 5"

Prints one JSON object per line: ``{"name", "value", "unit"}`` for each
figure of each tree (``<name>@base``, ``<name>@head``) and
``<name>_ratio`` (``head / base``; above 1 is slower or bigger for times and
sizes). A bench whose script is missing in the base tree is reported and
skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def run_bench(tree: Path, command: str) -> list[dict]:
    """One run of ``command`` (a bench script and its arguments) in ``tree``: its JSON figures."""
    args = shlex.split(command)
    # Both trees read the same shared data: the base worktree has no ../shared beside it.
    env = {"FEEDLENS_SHARED_DIR": str(REPO.parent / "shared"), **os.environ, "PYTHONPATH": str(tree)}
    env.setdefault("FEEDLENS_MODEL_DIR", str(Path(env["FEEDLENS_SHARED_DIR"]) / "models"))
    proc = subprocess.run([sys.executable, *args], cwd=tree, capture_output=True, text=True, env=env)
    figures = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and {"name", "value"} <= row.keys() and isinstance(row["value"], (int, float)):
            figures.append(row)
    if proc.returncode != 0 and not figures:
        print(f"# {command} failed in {tree}: {proc.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="the commit to compare against")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("benches", nargs="+", help='bench commands, e.g. "bench/ingest.py --runs 3"')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="feedlens-base-") as tmp:
        base = Path(tmp) / "base"
        subprocess.run(["git", "worktree", "add", "--detach", "-q", str(base), args.base], cwd=REPO, check=True)
        try:
            for command in args.benches:
                script = shlex.split(command)[0]
                if not (base / script).is_file():
                    print(f"# {script} does not exist at {args.base}: skipped", file=sys.stderr)
                    continue
                values: dict[tuple[str, str], list[float]] = defaultdict(list)
                units: dict[str, str] = {}
                for _ in range(args.rounds):
                    for label, tree in (("base", base), ("head", REPO)):
                        for row in run_bench(tree, command):
                            values[(row["name"], label)].append(float(row["value"]))
                            units[row["name"]] = row.get("unit", "")
                for name in sorted({name for name, _ in values}):
                    medians = {}
                    for label in ("base", "head"):
                        if values.get((name, label)):
                            medians[label] = statistics.median(values[(name, label)])
                            print(json.dumps({"name": f"{name}@{label}", "value": round(medians[label], 6),
                                              "unit": units[name]}))
                    if len(medians) == 2 and medians["base"]:
                        print(json.dumps({"name": f"{name}_ratio", "value": round(medians["head"] / medians["base"], 3),
                                          "unit": "head/base"}), flush=True)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=REPO, check=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
