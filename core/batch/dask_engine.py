"""The Dask engine: chunks as tasks on a Dask cluster (the only module that imports Dask).

Connects to ``address`` (or ``DASK_SCHEDULER_ADDRESS``), else starts a
``LocalCluster`` of worker processes with one thread each. Dask retries a
task whose worker died (``distributed.scheduler.allowed-failures``); a chunk
that still fails is split, and its photos run again one at a time; a photo that still fails is a failure.
"""

from __future__ import annotations

import os
import time
from collections import deque

from ..jobs import JobError, check_cancel
from .work import run_chunk

__all__ = ["DASK_CONFIG", "NO_WORKERS_S", "NoWorkersError", "map_chunks_dask"]

#: Set while the cluster starts (and shipped as ``core/batch/dask.yaml`` for real clusters): the nanny's
#: ``MALLOC_TRIM_THRESHOLD_=65536`` makes photo decoding about 50 % slower, so it is unset; a task that
#: kills its worker is retried twice before Dask gives up on it.
DASK_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.scheduler.allowed-failures": 2,
}


#: Seconds the cluster may have no worker at all before the job stops: a local cluster whose nannies gave up
#: restarting workers (a worker killed while it starts is not restarted again), or a remote scheduler that
#: nobody scales up (it may start from none: given ten times as long).
NO_WORKERS_S = 120.0


class NoWorkersError(JobError, RuntimeError):
    """The Dask cluster has had no worker for too long: nothing would ever finish."""


def map_chunks_dask(chunks, cache_root, emit, cancel, *, workers: int, address: str | None = None) -> None:
    """Run the chunks on a Dask cluster, calling ``emit(ChunkResult)`` as each one finishes (and running
    the chunks it returns)."""
    import dask
    from distributed import Client, KilledWorker, LocalCluster, as_completed

    from .engines import failed_result

    address = address or os.environ.get("DASK_SCHEDULER_ADDRESS") or None
    with dask.config.set(DASK_CONFIG):
        cluster = None
        if address is None:
            cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                   dashboard_address=None)
        client = Client(cluster if cluster is not None else address)
        running: dict = {}  # future -> (chunk, is a suspect)
        # One callback per future, polled without blocking. Not distributed.wait(timeout=...): each call
        # leaves one pending asyncio task per future it waited on, until that future ends (1,000 futures
        # polled 100 times: 100,000 tasks, 250 MB): the driver reached 7.7 GB at 100,000 photos that way.
        completed = as_completed(loop=client.loop)
        try:
            queue = deque(chunks)
            # The photos of a chunk Dask gave up on, run one at a time: Dask blames every task queued on a
            # worker that died, so a photo is failed only when it brought its worker down alone.
            suspects: deque = deque()
            serial = 0
            quiet_since = time.monotonic()  # when a chunk last came back
            while queue or suspects or running:
                check_cancel(cancel)
                pending = [(queue.popleft(), False) for _ in range(len(queue))]
                if suspects and not any(suspect for _, suspect in running.values()):
                    pending.append((suspects.popleft(), True))
                for chunk, suspect in pending:
                    serial += 1
                    future = client.submit(run_chunk, chunk, cache_root, pure=False,
                                           key=f"feedlens-chunk-{chunk.number}-{serial}")
                    running[future] = (chunk, suspect)
                    completed.add(future)
                finished = completed.next_batch(block=False) if completed.has_ready() else []
                if not finished:
                    time.sleep(0.2)
                    patience = NO_WORKERS_S if cluster is not None else 10 * NO_WORKERS_S
                    if time.monotonic() - quiet_since > patience and not client.nthreads():
                        where = "the local Dask cluster" if cluster is not None else f"the scheduler at {address}"
                        raise NoWorkersError(f"{where} has had no worker for {patience:.0f} s, so nothing can run; "
                                             "finished photos are cached: start workers and run the command again")
                    continue
                quiet_since = time.monotonic()
                for future in finished:
                    if future not in running:  # yielded twice (added again after its result was lost)
                        continue
                    chunk, suspect = running.pop(future)
                    if future.status == "finished":
                        try:
                            value = future.result(timeout=5)
                        except TimeoutError:  # its result went down with its worker: Dask computes it again
                            running[future] = (chunk, suspect)
                            completed.add(future)
                            continue
                        queue.extend(emit(value) or ())  # emit may ask for more chunks
                        continue
                    exc = future.exception()
                    reason = ("its worker process died on every attempt" if isinstance(exc, KilledWorker)
                              else f"{type(exc).__name__}: {exc}")
                    future.release()
                    if suspect or len(chunk.photos) == 1:
                        queue.extend(emit(failed_result(chunk, reason)) or ())
                    else:
                        suspects.extend(chunk.split())
        finally:
            if running:
                client.cancel(list(running))
            client.close()
            if cluster is not None:
                cluster.close()
