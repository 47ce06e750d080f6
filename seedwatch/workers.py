"""One long-lived process pool for the CPU-bound analysis of articles.

Starting a pool costs a fork per worker and a compile of the topic profiles in each
(:func:`seedwatch.analysis.init_worker`); doing that once per process instead of once
per article batch keeps small batches cheap. The pool is rebuilt when its shape
(workers, profile directories) changes or after it broke, and shut down at exit.

Workers come from a fork server, not from forking the caller: under Airflow the caller
is a task process holding all of Airflow, and forked children dirty those shared
pages (reference counts) until each holds a private copy. The fork server loads only
the analysis code and its models, once (:mod:`seedwatch.worker_preload`), and every
worker starts from that. A worker still re-imports the caller's ``__main__`` when it is
a script (for the ``airflow`` script, all of Airflow, about 60 MB per worker); a
package's ``__main__`` is skipped, which is why seedwatch starts Airflow as
``python -m airflow`` (:func:`seedwatch.airflow_runner.airflow_command`).

The caller does not import the analysis code either (trafilatura, datasketch: 1.8 s and
about 100 MB): the pool's initializer and entry point are the thin wrappers here, which
the workers resolve to the module the fork server preloaded. :func:`prestart_pool` starts
the workers in the background, so that import overlaps the caller's own work (polling).
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import threading
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_shape: tuple[int, Path, Path] | None = None
_warm: ProcessPoolExecutor | None = None  # the pool whose workers have all run a job


def _init_worker(topics_dir: Path, seeds_dir: Path) -> None:
    from seedwatch.analysis import init_worker

    init_worker(topics_dir, seeds_dir)
    # The profiles live as long as the worker: out of the cyclic collector's sight, which
    # otherwise walks all of them again and again while one long article is tagged.
    gc.freeze()


def analyse_jobs(jobs: list[tuple[dict[str, Any], str | None, datetime]]) -> list[dict[str, Any]]:
    """Several pages in one job: a job's queue and pickling overhead is paid once for them."""
    from seedwatch.analysis import analyse_in_worker

    return [analyse_in_worker(job) for job in jobs]


def _ready() -> None:
    """A no-op job: a worker that ran it has imported the analysis code and loaded the profiles."""


def analysis_pool(workers: int, topics_dir: Path, seeds_dir: Path) -> ProcessPoolExecutor:
    """The shared pool of ``workers`` processes with the profiles of these directories loaded."""
    global _pool, _shape
    shape = (workers, Path(topics_dir), Path(seeds_dir))
    with _lock:
        broken = _pool is not None and getattr(_pool, "_broken", False)
        if _pool is None or _shape != shape or broken:
            if _pool is not None:
                _pool.shutdown(wait=not broken, cancel_futures=True)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["seedwatch.worker_preload"])
            _pool = ProcessPoolExecutor(
                max_workers=workers, mp_context=context, initializer=_init_worker, initargs=(topics_dir, seeds_dir)
            )
            _shape = shape
        return _pool


def running_pool(*, warm: bool = False) -> ProcessPoolExecutor | None:
    """The shared pool if this process has started one (and it works), without starting one.

    ``warm``: only once its workers are up, so a job sent to it does not wait for their start.
    """
    with _lock:
        if _pool is None or getattr(_pool, "_broken", False) or (warm and _warm is not _pool):
            return None
        return _pool


def prestart_pool(workers: int, topics_dir: Path, seeds_dir: Path) -> None:
    """Start the pool's workers in a background thread and return at once.

    Starting a worker waits for the fork server's import of the analysis code; in a
    thread, that wait overlaps whatever the caller does next.
    """

    def start() -> None:
        global _warm
        try:
            pool = analysis_pool(workers, topics_dir, seeds_dir)
            for future in [pool.submit(_ready) for _ in range(workers)]:
                future.result()
            with _lock:
                _warm = pool
        except Exception as exc:  # noqa: BLE001 - the pool is started again when used, and reports then
            log.info("workers.prestart_failed", error=repr(exc))

    threading.Thread(target=start, name="seedwatch-prestart-pool", daemon=True).start()


def shutdown_pool() -> None:
    """Stop the shared pool (also run at interpreter exit)."""
    global _pool, _shape
    with _lock:
        if _pool is not None:
            _pool.shutdown(wait=True, cancel_futures=True)
        _pool, _shape = None, None


atexit.register(shutdown_pool)
