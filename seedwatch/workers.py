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

Each article has a budget in a worker (:class:`ArticleBudget`, ``pipeline.article_cpu_s``
and ``pipeline.article_memory_mb``): past its CPU time a timer interrupts the analysis,
past its memory the allocation fails (``RLIMIT_AS``), and that article alone gets an
``{"error": ...}`` instead of an analysis; the worker goes on with the next. Code that
holds the interpreter past twice the budget (a C loop no signal interrupts) meets the
kernel's ``RLIMIT_CPU`` instead: the worker dies, the pool is replaced, and the caller
(:mod:`seedwatch.processing`) retries that job's pages one by one to find the article.

The caller does not import the analysis code either (trafilatura, datasketch: 1.8 s and
about 100 MB): the pool's initializer and entry point are the thin wrappers here, which
the workers resolve to the module the fork server preloaded. :func:`prestart_pool` starts
the workers in the background, so that import overlaps the caller's own work (polling).
"""

from __future__ import annotations

import atexit
import gc
import multiprocessing
import resource
import signal
import threading
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger(__name__)

_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_warm: ProcessPoolExecutor | None = None  # the pool whose workers have all run a job


@dataclass(frozen=True, slots=True)
class ArticleBudget:
    """What one article may cost an analysis worker (extraction, tagging, fingerprints)."""

    cpu_s: float = 60.0  # CPU seconds
    memory_mb: int = 1024  # memory beyond what the worker holds once its profiles are loaded


class OverBudget(BaseException):  # noqa: N818 - raised by the CPU timer, caught per article
    """An article's analysis went past its CPU time.

    A BaseException, like KeyboardInterrupt: the extractors' ``except Exception`` fallbacks
    must not swallow it and carry on with the same article.
    """


_shape: tuple[int, Path, Path, ArticleBudget] | None = None
_budget: ArticleBudget | None = None  # in a worker: set by _init_worker
_in_article = False  # the CPU timer interrupts only an article's analysis


def _init_worker(topics_dir: Path, seeds_dir: Path, budget: ArticleBudget | None = None) -> None:
    from seedwatch.analysis import init_worker

    global _budget
    init_worker(topics_dir, seeds_dir)
    # The profiles live as long as the worker: out of the cyclic collector's sight, which
    # otherwise walks all of them again and again while one long article is tagged.
    gc.freeze()
    if budget is not None:
        _budget = budget
        _limit_address_space(budget.memory_mb)
        signal.signal(signal.SIGPROF, _cpu_timer_fired)


def _limit_address_space(memory_mb: int) -> None:
    """Allocations past the worker's present size plus ``memory_mb`` fail (MemoryError)."""
    with open("/proc/self/statm", encoding="ascii") as statm:
        size = int(statm.read().split()[0]) * resource.getpagesize()
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = size + memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (soft if hard == resource.RLIM_INFINITY else min(soft, hard), hard))


def _cpu_timer_fired(signum: int, frame: object) -> None:
    if _in_article:
        raise OverBudget


def analyse_jobs(jobs: list[tuple[dict[str, Any], str | None, datetime]]) -> list[dict[str, Any]]:
    """Several pages in one job: a job's queue and pickling overhead is paid once for them.

    In a worker with a budget, an article over it gets ``{"error": ...}`` in its place.
    """
    from seedwatch.analysis import analyse_in_worker

    if _budget is None:
        return [analyse_in_worker(job) for job in jobs]
    return [_within_budget(analyse_in_worker, job, _budget) for job in jobs]


def _within_budget(analyse: Any, job: tuple[dict[str, Any], str | None, datetime], budget: ArticleBudget) -> Any:
    global _in_article
    usage = resource.getrusage(resource.RUSAGE_SELF)
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    # The kernel's backstop (SIGXCPU ends the worker) for code the timer cannot interrupt.
    backstop = int(usage.ru_utime + usage.ru_stime + 2 * budget.cpu_s) + 5
    resource.setrlimit(resource.RLIMIT_CPU, (backstop if hard == resource.RLIM_INFINITY else min(backstop, hard), hard))
    try:
        try:
            _in_article = True
            signal.setitimer(signal.ITIMER_PROF, budget.cpu_s)
            return analyse(job)
        finally:  # disarmed before any handler below runs
            _in_article = False
            signal.setitimer(signal.ITIMER_PROF, 0)
    except OverBudget:
        return _over_budget(job, f"more than {budget.cpu_s:g} s of CPU time (pipeline.article_cpu_s)")
    except MemoryError:
        return _over_budget(job, f"more than {budget.memory_mb} MB of memory (pipeline.article_memory_mb)")


def _over_budget(job: tuple[dict[str, Any], str | None, datetime], what: str) -> dict[str, str]:
    gc.collect()  # what the analysis left in cycles, before the next article
    size = len(job[1] or "")
    log.warning("article.over_budget", url=job[0].get("url"), budget=what, page_chars=size)
    return {"error": f"analysis over budget: {what}; page of {size} characters"}


def _ready() -> None:
    """A no-op job: a worker that ran it has imported the analysis code and loaded the profiles."""


def analysis_pool(
    workers: int, topics_dir: Path, seeds_dir: Path, budget: ArticleBudget | None = None
) -> ProcessPoolExecutor:
    """The shared pool of ``workers`` processes with the profiles of these directories loaded,
    and ``budget`` (default :class:`ArticleBudget`) per article."""
    global _pool, _shape
    budget = budget or ArticleBudget()
    shape = (workers, Path(topics_dir), Path(seeds_dir), budget)
    with _lock:
        broken = _pool is not None and getattr(_pool, "_broken", False)
        if _pool is None or _shape != shape or broken:
            if _pool is not None:
                _pool.shutdown(wait=not broken, cancel_futures=True)
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(["seedwatch.worker_preload"])
            _pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=context,
                initializer=_init_worker,
                initargs=(topics_dir, seeds_dir, budget),
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


def prestart_pool(workers: int, topics_dir: Path, seeds_dir: Path, budget: ArticleBudget | None = None) -> None:
    """Start the pool's workers in a background thread and return at once.

    Starting a worker waits for the fork server's import of the analysis code; in a
    thread, that wait overlaps whatever the caller does next.
    """

    def start() -> None:
        global _warm
        try:
            pool = analysis_pool(workers, topics_dir, seeds_dir, budget)
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
