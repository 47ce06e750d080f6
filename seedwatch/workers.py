"""One long-lived process pool for the CPU-bound analysis of articles.

Starting a pool costs a fork per worker and a compile of the topic profiles in each
(:func:`seedwatch.analysis.init_worker`); doing that once per process instead of once
per article batch keeps small batches cheap. The pool is rebuilt when its shape
(workers, profile directories) changes or after it broke, and shut down at exit.

Workers come from a fork server, not from forking the caller: under Airflow the caller
is a task process holding all of Airflow, and forked children dirty those shared
pages (reference counts) until each holds a private copy. The fork server imports only
the analysis code, once, and every worker starts from that. A worker still re-imports
the caller's ``__main__`` when it is a script (for the ``airflow`` script, all of Airflow,
about 60 MB per worker); a package's ``__main__`` is skipped, which is why seedwatch
starts Airflow as ``python -m airflow`` (:func:`seedwatch.airflow_runner.airflow_command`).
"""

from __future__ import annotations

import atexit
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_shape: tuple[int, Path, Path] | None = None


def analysis_pool(workers: int, topics_dir: Path, seeds_dir: Path) -> ProcessPoolExecutor:
    """The shared pool of ``workers`` processes with the profiles of these directories loaded."""
    from seedwatch.analysis import init_worker  # here, not at the top: the caller need not load the extractors

    global _pool, _shape
    shape = (workers, Path(topics_dir), Path(seeds_dir))
    with _lock:
        broken = _pool is not None and getattr(_pool, "_broken", False)
        if _pool is None or _shape != shape or broken:
            if _pool is not None:
                _pool.shutdown(wait=not broken, cancel_futures=True)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["seedwatch.analysis"])
            _pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=init_worker, initargs=(topics_dir, seeds_dir)
            )
            _shape = shape
        return _pool


def shutdown_pool() -> None:
    """Stop the shared pool (also run at interpreter exit)."""
    global _pool, _shape
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
        _pool, _shape = None, None


atexit.register(shutdown_pool)
