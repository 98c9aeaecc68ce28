"""Batch: the heavy per-photo work of many archives, in chunks, on any engine (in-process, processes, Dask).

Public verbs, by module:
- :mod:`core.batch.plan`: IMPORT, STEPS, Chunk, plan_batch, plan_import
- :mod:`core.batch.work`: ChunkResult, run_chunk
- :mod:`core.batch.engines`: ENGINES, BatchResult, map_chunks, run_batch
- :mod:`core.batch.driver`: MANIFEST_EVERY_S, BatchRun, run_archives
- :mod:`core.batch.dask_engine`: DASK_CONFIG, NO_WORKERS_S, NoWorkersError, map_chunks_dask
- :mod:`core.batch.manifest`: MANIFEST_KIND, BatchManifest, BatchStatus, batch_status, core_version, read_manifest, write_manifest
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["plan", "work", "engines", "driver", "dask_engine", "manifest"])
