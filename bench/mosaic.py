"""Mosaic assignment: speed and memory of PuLP, exact (Jonker-Volgenant) and greedy.

Each case runs in its own child process (this script with ``--case``), so the
peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is that
case's alone. CBC, PuLP's solver, is a grandchild: its peak (``VmHWM``) is
read from ``/proc`` while it runs. Tiles and photos are random vectors of
16x16x3 values in [0, 1], the default scoring size.

Cases:

* PuLP vs exact at 400 and 900 tiles, side by side on the *same* cost matrix:
  the assignment step alone (PuLP: building the model plus CBC; exact:
  ``lap.lapjv``), the objective of both, and exact end to end (cost plus
  assignment) for reference. Targets: the same objective, exact >= 1000x faster.
* 2,500 x 2,500 and 10,000 x 10,000 end to end through
  :func:`core.mosaic.assignment.solve` (cost matrix plus exact assignment). Targets:
  <= 1 s; <= 15 s and <= 1.5 GB peak RSS.
* The cost matrix alone at 10,000 x 10,000 (float32, about 1 s).

Prints one JSON object per line: ``{"name": ..., "value": ..., "unit": ...}``.
Times are medians over ``--runs`` runs (PuLP runs once: it takes a minute or more).
The figures depend on the machine's load; run it on a quiet machine.

Run: ``python bench/mosaic.py [--runs 3] [--skip-pulp-900] [--skip-pulp] [--pulp-binary]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402

from core import mosaic  # noqa: E402

DIM = 16 * 16 * 3


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 6), "unit": unit}), flush=True)


def problem(n_tiles: int, n_photos: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.random((n_tiles, DIM), dtype=np.float32), rng.random((n_photos, DIM), dtype=np.float32)


class ChildPeak:
    """Largest ``VmHWM`` (peak RSS) of this process's non-Python children (CBC), polled from /proc."""

    def __init__(self, interval: float = 0.1) -> None:
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval,), daemon=True)

    def _children(self) -> list[str]:
        pids: list[str] = []
        for task in Path(f"/proc/{os.getpid()}/task").iterdir():
            try:
                pids += (task / "children").read_text().split()
            except OSError:
                pass
        return pids

    def _run(self, interval: float) -> None:
        while not self._stop.wait(interval):
            for pid in self._children():
                try:
                    status = dict(line.split(":", 1) for line in
                                  Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
                    # Skip a child caught between fork and exec: it still looks like this Python.
                    if "python" not in status.get("Name", "") and "VmHWM" in status:
                        self.peak_kb = max(self.peak_kb, int(status["VmHWM"].split()[0]))
                except (OSError, ValueError):
                    pass

    def __enter__(self) -> ChildPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_case(method: str, n: int, runs: int, seed: int) -> dict:
    """In the child: time one case ``runs`` times; report times, objective and peak RSS."""
    tiles, photos = problem(n, n, seed)
    times: list[float] = []
    chosen = None
    with ChildPeak() as children:
        for _ in range(runs):
            if method == "cost":
                start = time.perf_counter()
                mosaic.cost_matrix(tiles, photos)
                times.append(time.perf_counter() - start)
                continue
            if method in ("lp", "lp_binary", "exact_assign"):
                cost = mosaic.cost_matrix(tiles, photos, dtype=np.float64)
                start = time.perf_counter()
                if method == "exact_assign":
                    chosen = mosaic.assign_exact(cost)
                else:
                    chosen = mosaic.assign_lp(cost, integer=method == "lp_binary")
                times.append(time.perf_counter() - start)
                del cost
                continue
            start = time.perf_counter()
            chosen = mosaic.solve(tiles, photos, method=method)
            times.append(time.perf_counter() - start)
    objective = float(mosaic.tile_errors(tiles, photos, chosen).sum()) if chosen is not None else float("nan")
    return {
        "times": times,
        "objective": objective,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "solver_child_mb": children.peak_kb / 1024,
        "distinct": int(np.unique(chosen).size) if chosen is not None else 0,
    }


def in_child(method: str, n: int, runs: int, seed: int = 0) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--case", method, str(n), str(runs), str(seed)],
        capture_output=True, text=True, check=False,
    )
    if out.returncode != 0:
        raise SystemExit(f"case {method} {n} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="timed runs per fast case (median reported)")
    parser.add_argument("--skip-pulp", action="store_true", help="no PuLP at all")
    parser.add_argument("--skip-pulp-900", action="store_true", help="PuLP at 400 tiles only (900 takes minutes)")
    parser.add_argument("--pulp-binary", action="store_true",
                        help="also PuLP with binary variables, as in the seed (about twice as slow)")
    parser.add_argument("--case", nargs=4, metavar=("METHOD", "N", "RUNS", "SEED"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        method, n, runs, seed = args.case
        print(json.dumps(run_case(method, int(n), int(runs), int(seed))))
        return

    emit("mosaic_dim", DIM, "values per tile (16x16x3)")
    pulp_sizes = [] if args.skip_pulp else ([400] if args.skip_pulp_900 else [400, 900])
    for n in (400, 900):
        exact = in_child("exact_assign", n, max(args.runs, 9))
        exact_s = statistics.median(exact["times"])
        emit(f"mosaic_exact_{n}_s", exact_s, "s (assignment only, lapjv)")
        e2e = in_child("exact", n, max(args.runs, 5))
        emit(f"mosaic_exact_{n}_end_to_end_s", statistics.median(e2e["times"]), "s (cost + assignment)")
        if n in pulp_sizes:
            lp = in_child("lp", n, 1)
            lp_s = lp["times"][0]
            emit(f"mosaic_pulp_{n}_s", lp_s, "s (PuLP model + CBC, continuous LP)")
            emit(f"mosaic_pulp_{n}_peak_mb", max(lp["peak_mb"], lp["solver_child_mb"]), "MB (largest process)")
            emit(f"mosaic_pulp_{n}_python_peak_mb", lp["peak_mb"], "MB")
            emit(f"mosaic_pulp_{n}_cbc_peak_mb", lp["solver_child_mb"], "MB")
            emit(f"mosaic_objective_rel_diff_{n}", abs(lp["objective"] - exact["objective"]) / exact["objective"],
                 "ratio")
            emit(f"mosaic_exact_speedup_{n}", lp_s / exact_s, "x (assignment only)")
            if args.pulp_binary:
                binary = in_child("lp_binary", n, 1)
                emit(f"mosaic_pulp_binary_{n}_s", binary["times"][0], "s (binary variables, as in the seed)")
                emit(f"mosaic_pulp_binary_{n}_peak_mb", max(binary["peak_mb"], binary["solver_child_mb"]),
                     "MB (largest process)")
                emit(f"mosaic_objective_rel_diff_binary_{n}",
                     abs(binary["objective"] - exact["objective"]) / exact["objective"], "ratio")
                emit(f"mosaic_exact_speedup_binary_{n}", binary["times"][0] / exact_s, "x (assignment only)")
        greedy = in_child("greedy", n, max(args.runs, 5))
        emit(f"mosaic_greedy_vs_exact_objective_{n}", greedy["objective"] / exact["objective"], "ratio")

    cost = in_child("cost", 10_000, args.runs)
    emit("mosaic_cost_10000_s", statistics.median(cost["times"]), "s (float32 cost matrix alone)")
    for n, budget_s in ((2500, 1.0), (10_000, 15.0)):
        exact = in_child("exact", n, args.runs)
        assert exact["distinct"] == n
        emit(f"mosaic_{n}_s", statistics.median(exact["times"]), f"s (end to end; target <= {budget_s:g} s)")
        emit(f"mosaic_{n}_peak_mb", exact["peak_mb"], "MB" + (" (target <= 1536 MB)" if n == 10_000 else ""))
    greedy = in_child("greedy", 10_000, 1)
    emit("mosaic_greedy_10000_s", greedy["times"][0], "s (end to end)")


if __name__ == "__main__":
    main()
