"""End-to-end throughput, per-stage rates and peak memory of the seedwatch pipeline.

Builds a local news site from real pages: the AEB benchmark pages (``tests/fixtures/
extraction/aeb/html``) repeated under distinct URLs, spread over ``--hosts`` loopback
addresses (127.0.0.1..N, one server each, in a separate process) with ``--latency``
seconds per response, and ``--feeds`` RSS feeds of ``--items`` items each linking to
them. Then, each on a fresh state store:

* ``cli``: :func:`seedwatch.pipeline.run_once` in this process, timed per stage through
  its ``on_stage`` hook; then a second run one day later (all feeds due, all answer 304);
* ``airflow``: ``airflow dags test seedwatch_monitor`` (``run_dag_test``) on the same site.

Extraction and tagging run interleaved inside the processing stage, so their own rates
come from timing ``extract_article`` and the topic tagging on the distinct pages here,
on one core. The floor is plain ``trafilatura.extract`` on the same pages, on one core and
on all cores (a process pool, pages preloaded: extraction alone); the all-cores floor is
measured before and after the CLI run, and the CLI is compared with their mean.
Peak memory is the summed PSS (proportional RSS) from /proc over this process and its
descendants (workers, Airflow tasks), the site server excluded; CPU seconds per article are
split into this process, its workers, the site server and the memory sampler itself.

    .venv/bin/python bench/pipeline_bench.py --feeds 20 --items 50            # 1k articles
    .venv/bin/python bench/pipeline_bench.py --feeds 200 --items 50 --no-airflow
"""

from __future__ import annotations

import argparse
import gzip
import html
import json
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PROJECT_DIR = Path(__file__).resolve().parents[1]
PAGE_DIRS = [
    PROJECT_DIR / "tests" / "fixtures" / "extraction" / "aeb" / "html",
    Path("/work/shared/data/extraction/aeb/html"),
]
PUBLISHED = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


# -- the local site (runs in its own process so its threads do not share our cores' GIL) --


def _feed_xml(base: str, feed: int, items: int, hosts: list[str]) -> bytes:
    entries = []
    for item in range(items):
        number = feed * items + item
        url = f"{hosts[number % len(hosts)]}/news/{number}.html"
        entries.append(
            f"<item><title>Story {number} from feed {feed}</title><link>{html.escape(url)}</link>"
            f"<guid isPermaLink='true'>{html.escape(url)}</guid><pubDate>{format_datetime(PUBLISHED)}</pubDate>"
            f"<description>Summary of story {number}, a report carried by feed {feed}.</description></item>"
        )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>Bench feed {feed}</title><link>{base}/</link><description>bench</description><language>en</language>"
        + "".join(entries)
        + "</channel></rss>"
    ).encode()


def _serve(directory: str, feeds: int, items: int, hosts: int, latency: float, out: Any, stop: Any) -> None:
    from seedwatch.localsite import LocalSite, Request, Response

    bodies = [path.read_bytes() for path in sorted(Path(directory).glob("*.html.gz"))]

    def page(request: Request) -> Response:
        number = int(request.path.rsplit("/", 1)[-1].split(".")[0])
        return Response(body=bodies[number % len(bodies)], headers={"Content-Encoding": "gzip"})

    sites = [LocalSite(host=f"127.0.0.{n + 1}", latency_s=latency).start() for n in range(hosts)]
    bases = [site.base_url for site in sites]
    for number in range(feeds * items):
        sites[number % hosts].add_handler(f"/news/{number}.html", page)
    for feed in range(feeds):
        site = sites[feed % hosts]
        site.add(f"/feeds/{feed}.xml", _feed_xml(site.base_url, feed, items, bases), content_type="application/rss+xml")
    for site in sites:
        site.add("/robots.txt", "User-agent: *\nAllow: /\n", content_type="text/plain")
    out.put(bases)
    stop.wait()
    for site in sites:
        site.stop()


@contextmanager
def bench_site(feeds: int, items: int, hosts: int, latency: float) -> Iterator[tuple[Path, list[str], int]]:
    """The bench's news site in a process of its own: (page directory, base URLs, server pid)."""
    directory = next((d for d in PAGE_DIRS if d.is_dir() and any(d.glob("*.html.gz"))), None)
    if directory is None:
        sys.exit("no AEB pages found")
    context = multiprocessing.get_context("spawn")
    queue, stop = context.Queue(), context.Event()
    server = context.Process(
        target=_serve, args=(str(directory), feeds, items, hosts, latency, queue, stop), daemon=True
    )
    server.start()
    try:
        yield directory, queue.get(timeout=120), server.pid
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()


# -- memory: this process and its descendants, from /proc ---------------------------


class TreeRss:
    """Samples the summed PSS of this process tree (minus ``exclude``) and keeps its peak.

    PSS comes from ``smaps_rollup``, which costs the kernel a walk of every mapped page:
    read five times a second it took 4 % of this machine from the run it measured. So
    the cheap RSS (``statm``) is read every ``interval`` s, and PSS only when RSS has grown
    2 % since PSS was last read, or ``pss_every`` s have passed (a peak PSS between two
    reads is missed by at most about 2 %). The sampler's own CPU is kept apart
    (``sampler_cpu_s``).

    It also keeps the CPU seconds each descendant has used (``descendants_cpu_s``, the last
    sample of each): pool workers live through the run, so that is their share of the work.
    """

    def __init__(
        self, exclude: set[int], interval: float = 0.5, *, include_root: bool = True, pss_every: float = 5.0
    ) -> None:
        self.exclude, self.interval, self.pss_every, self.peak_mb = exclude, interval, pss_every, 0.0
        self.include_root = include_root
        self.sampler_cpu_s = 0.0
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def descendants_cpu_s(self) -> float:
        return sum(seconds for pid, seconds in self._cpu.items() if pid != os.getpid())

    def __enter__(self) -> TreeRss:
        self.peak_mb = 0.0
        self._cpu = {}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        started = time.thread_time()
        rss_at_pss, last_pss = 0.0, 0.0
        while not self._stop.wait(self.interval):
            exclude = self.exclude if self.include_root else self.exclude | {os.getpid()}
            tree = process_tree(os.getpid(), exclude)
            rss = rss_mb(tree)
            if rss > 1.02 * rss_at_pss or time.monotonic() - last_pss >= self.pss_every:
                rss_at_pss, last_pss = rss, time.monotonic()
                self.peak_mb = max(self.peak_mb, pss_mb(tree))
            self._cpu.update((pid, cpu_seconds(pid)) for pid in tree)
        self.sampler_cpu_s = time.thread_time() - started  # the bench's own cost, not seedwatch's


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds the process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(root: int, exclude: set[int]) -> set[int]:
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parents[int(entry)] = int(stat.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree and pid not in exclude:
                tree.add(pid)
                frontier.append(pid)
    return tree - exclude


def rss_mb(tree: set[int]) -> float:
    page_kb = os.sysconf("SC_PAGE_SIZE") // 1024
    total_kb = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/statm") as statm:
                total_kb += int(statm.read().split()[1]) * page_kb
        except (OSError, IndexError):
            continue
    return total_kb / 1000


def pss_mb(tree: set[int]) -> float:
    # PSS, not RSS: forked workers share their parent's pages, and summing RSS would
    # count those once per worker.
    total_kb = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                total_kb += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
        except (OSError, StopIteration):
            continue
    return total_kb / 1000


# -- single-core rates on the distinct pages -----------------------------------------


def single_core_rates(directory: Path) -> dict[str, float]:
    import trafilatura

    from extractors import extract_article
    from seedwatch.analysis import tag_topics
    from seedwatch.relevance import load_profiles

    pages = [gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in sorted(directory.glob("*.html.gz"))]
    # Warm both (language model, lazy imports), as a worker is warm before its first article.
    trafilatura.extract(pages[0])
    extract_article(pages[0], "http://127.0.0.1/news/1.html", now=PUBLISHED)
    started = time.perf_counter()
    for page in pages:
        trafilatura.extract(page)
    floor = len(pages) / (time.perf_counter() - started)
    started = time.perf_counter()
    extracted = [extract_article(page, "http://127.0.0.1/news/1.html", now=PUBLISHED) for page in pages]
    extract = len(pages) / (time.perf_counter() - started)
    profiles = load_profiles(PROJECT_DIR / "config" / "topics", PROJECT_DIR / "seeds")
    # Warm: the matchers finish compiling on first use, which a worker does once at start.
    tag_topics(profiles, title=extracted[0].title or "", text=extracted[0].text or "", language=extracted[0].language)
    started = time.perf_counter()
    for article in extracted:
        tag_topics(profiles, title=article.title or "", text=article.text or "", language=article.language)
    tag = len(pages) / (time.perf_counter() - started)
    return {"floor": floor, "extract": extract, "tag": tag, "pages": len(pages)}


_floor_pages: list[str] = []


def _load_floor_pages(directory: Path) -> None:
    _floor_pages[:] = [
        gzip.decompress(p.read_bytes()).decode("utf-8", "replace") for p in sorted(directory.glob("*.html.gz"))
    ]


def _extract_page(number: int) -> int:
    import trafilatura

    return len(trafilatura.extract(_floor_pages[number % len(_floor_pages)]) or "")


def parallel_floor(directory: Path, processes: int, rounds: int = 3) -> float:
    """Plain ``trafilatura.extract`` on ``processes`` cores: the pages per second the issue's floor means.

    Each worker loads the pages itself and is warmed up before the clock starts, so the
    figure is extraction alone: no fetching, no pickling of pages, no pool start-up.
    """
    context = multiprocessing.get_context("spawn")
    with context.Pool(processes, initializer=_load_floor_pages, initargs=(directory,)) as pool:
        count = len(list(directory.glob("*.html.gz")))
        pool.map(_extract_page, range(processes * 4), chunksize=1)  # warm-up: imports, first parse
        started = time.perf_counter()
        pool.map(_extract_page, range(count * rounds), chunksize=4)
        return count * rounds / (time.perf_counter() - started)


def fetch_rate(urls: list[str], policy: Any) -> float:
    from seedwatch.fetch import fetch_pages_sync

    started = time.perf_counter()
    pages = fetch_pages_sync(urls, policy)
    elapsed = time.perf_counter() - started
    ok = sum(1 for page in pages if page.html)
    if ok != len(urls):
        raise RuntimeError(f"fetch sample: only {ok}/{len(urls)} pages fetched")
    return len(urls) / elapsed


# -- the runs ---------------------------------------------------------------------------


def make_config(work: Path, bases: list[str], feeds: int, items: int, batch: int) -> Path:
    from seedwatch.demo import write_config

    feed_list = [
        {
            "name": f"Bench feed {n}",
            "url": f"{bases[n % len(bases)]}/feeds/{n}.xml",
            "outlet": f"outlet-{n}.example",
            "language": "en",
            "country": "GB",
        }
        for n in range(feeds)
    ]
    config_dir = write_config(work, site_url=bases[0], smtp_port=9, feeds=feed_list, alerts=[])
    main = config_dir / "seedwatch.yaml"
    data = yaml.safe_load(main.read_text())
    data["http"] = {"allow_networks": ["127.0.0.0/8"]}  # the default politeness: 4 per host, 32 in all
    data["pipeline"] = {"article_batch_size": batch, "max_articles_per_run": feeds * items + 1}
    main.write_text(yaml.safe_dump(data, sort_keys=False))
    return config_dir


def run_cli(config_dir: Path, exclude: set[int], server_pid: int) -> dict[str, Any]:
    from seedwatch.pipeline import run_once
    from seedwatch.settings import load_settings

    settings = load_settings(config_dir)
    now = datetime.now(UTC)
    marks: list[tuple[str, float]] = []
    server_before, own_before = cpu_seconds(server_pid), os.times()
    with TreeRss(exclude) as rss:
        started = time.perf_counter()
        report = run_once(settings, now=now, on_stage=lambda name: marks.append((name, time.perf_counter())))
        total = time.perf_counter() - started
    own = os.times()
    cpu = {
        # The sampler thread is the bench's, not seedwatch's: shown apart.
        "parent": own.user + own.system - own_before.user - own_before.system - rss.sampler_cpu_s,
        "memory sampler": rss.sampler_cpu_s,
        "workers": rss.descendants_cpu_s,
        "site server": cpu_seconds(server_pid) - server_before,
    }
    marks.append(("end", started + total))
    stages = {name: marks[i + 1][1] - at for i, (name, at) in enumerate(marks[:-1])}
    started = time.perf_counter()
    again = run_once(settings, now=now + timedelta(days=1))
    second = time.perf_counter() - started
    return {
        "seconds": total,
        "stages": stages,
        "peak_rss_mb": rss.peak_mb,
        "cpu_s": cpu,
        "articles": report.process.articles,
        "extracted": report.process.extracted,
        "fetch_errors": report.process.fetch_errors,
        "entries": report.poll.entries_seen,
        "stories": report.dedup.new_stories,
        "indexed": report.index.indexed,
        "second_run_s": second,
        "second_not_modified": again.poll.feeds_not_modified,
        "second_new": again.poll.new_articles,
    }


def run_airflow(config_dir: Path, work: Path, exclude: set[int]) -> dict[str, Any]:
    from seedwatch.airflow_runner import airflow_env, ensure_metadata_db, run_dag_test
    from seedwatch.workers import shutdown_pool

    env = airflow_env(work / "airflow", config_dir)
    ensure_metadata_db(env)  # one-off setup, not part of a run
    shutdown_pool()  # the CLI run's workers are not Airflow's
    # Airflow's processes only: this bench process is not part of an Airflow deployment.
    with TreeRss(exclude, include_root=False) as rss:
        started = time.perf_counter()
        result = run_dag_test("seedwatch_monitor", env, timeout_s=3600)
        elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"airflow dags test failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{work / 'state.db'}")
    with engine.connect() as conn:
        processed = conn.execute(text("select count(*) from articles where status='processed'")).scalar_one()
        from_page = conn.execute(text("select count(*) from articles where body_source='page'")).scalar_one()
    return {"seconds": elapsed, "peak_rss_mb": rss.peak_mb, "articles": processed, "extracted": from_page}


def print_table(result: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    cli, rates, n = result["cli"], result["rates"], result["cli"]["articles"]
    stages = cli["stages"]
    table = Table(
        title=f"seedwatch pipeline: {result['feeds']} feeds x {result['items']} items = {n} articles, "
        f"{result['latency_s'] * 1000:.0f} ms latency, {os.cpu_count()} cores"
    )
    for column in ("stage", "seconds", "articles/s", "how measured"):
        table.add_column(column, justify="right" if column in ("seconds", "articles/s") else "left")
    table.add_row(
        "parse feeds (poll)", f"{stages['poll']:.1f}", f"{n / stages['poll']:.0f}", "run_once stage, 1 process"
    )
    table.add_row("fetch", "", f"{result['fetch_rate']:.0f}", f"fetch only, {result['fetch_sample']} pages")
    table.add_row("extract", "", f"{rates['extract']:.1f}", "extract_article, 1 core")
    table.add_row("tag", "", f"{rates['tag']:.0f}", "topic tagging, 1 core")
    table.add_row(
        "process (fetch+extract+tag)",
        f"{stages['process']:.1f}",
        f"{n / stages['process']:.1f}",
        f"run_once stage, {result['workers']} workers",
    )
    table.add_row("de-duplicate", f"{stages['dedup']:.1f}", f"{n / stages['dedup']:.0f}", "run_once stage")
    table.add_row("index", f"{stages['index']:.1f}", f"{n / stages['index']:.0f}", "run_once stage (SQLite FTS5)")
    table.add_row("[bold]end to end, CLI", f"{cli['seconds']:.1f}", f"[bold]{n / cli['seconds']:.1f}", "run_once")
    if "airflow" in result:
        air = result["airflow"]
        table.add_row(
            "[bold]end to end, Airflow",
            f"{air['seconds']:.1f}",
            f"{air['articles'] / air['seconds']:.1f}",
            f"airflow dags test: {air['seconds'] / cli['seconds']:.2f}x CLI wall time; "
            f"{air['extracted']}/{air['articles']} bodies from the page",
        )
    table.add_row(
        "floor: trafilatura.extract",
        "",
        f"{rates['floor']:.1f}",
        f"1 core; CLI = {n / cli['seconds'] / rates['floor']:.0%} of it",
    )
    cores = result["floor_cores"]
    table.add_row(
        f"[bold]floor: trafilatura.extract, {cores} cores",
        "",
        f"{result['parallel_floor']:.1f}",
        f"[bold]CLI = {n / cli['seconds'] / result['parallel_floor']:.0%} of it[/bold] (target: 70 %); mean of "
        f"{result['parallel_floor_before']:.1f} before and {result['parallel_floor_after']:.1f} after the CLI run",
    )
    table.add_row(
        "second run (all 304)",
        f"{cli['second_run_s']:.1f}",
        "",
        f"{cli['second_not_modified']} feeds not modified, {cli['second_new']} new",
    )
    Console(width=120).print(table)
    mem = f"peak memory (PSS of the process tree, site server excluded): CLI {cli['peak_rss_mb']:.0f} MB"
    if "airflow" in result:
        mem += f", Airflow {result['airflow']['peak_rss_mb']:.0f} MB"
    Console(width=120).print(mem + f"; {cli['extracted']}/{n} bodies from the page, {cli['fetch_errors']} fetch errors")
    shares = ", ".join(f"{role} {seconds * 1000 / n:.1f}" for role, seconds in cli["cpu_s"].items())
    busy = sum(cli["cpu_s"].values()) / cli["seconds"]
    Console(width=120).print(
        f"CLI CPU per article (ms): {shares}; {busy:.2f} of {os.cpu_count()} cores busy on average"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--feeds", type=int, default=200)
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per response")
    parser.add_argument("--hosts", type=int, default=8)
    parser.add_argument("--batch", type=int, default=500, help="pipeline.article_batch_size")
    parser.add_argument("--no-airflow", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    work = Path(tempfile.mkdtemp(prefix="seedwatch-bench-"))
    try:
        with bench_site(args.feeds, args.items, args.hosts, args.latency) as (directory, bases, server_pid):
            exclude = {server_pid}
            from seedwatch.fetch import HttpPolicy
            from seedwatch.processing import _worker_count
            from seedwatch.settings import load_settings

            # In a child process, so the pages and parsers it loads do not swell this process
            # (and the workers it forks) during the measured runs.
            with context.Pool(1) as helper:
                rates = helper.apply(single_core_rates, (directory,))
            cores = os.cpu_count() or 1
            parallel = parallel_floor(directory, cores)
            sample = min(1000, args.feeds * args.items)
            policy = HttpPolicy(allow_networks=["127.0.0.0/8"])
            urls = [f"{bases[n % len(bases)]}/news/{n}.html" for n in range(sample)]
            result: dict[str, Any] = {
                "feeds": args.feeds,
                "items": args.items,
                "latency_s": args.latency,
                "rates": rates,
                "floor_cores": cores,
                "parallel_floor": parallel,
                "fetch_sample": sample,
                "fetch_rate": fetch_rate(urls, policy),
            }
            cli_config = make_config(work / "cli", bases, args.feeds, args.items, args.batch)
            result["workers"] = _worker_count(load_settings(cli_config), args.batch)
            result["cli"] = run_cli(cli_config, exclude, server_pid)
            # Measured again right after the CLI run: the machine's speed drifts (it is shared),
            # and the CLI is compared with the mean of the floors around it.
            result["parallel_floor_after"] = parallel_floor(directory, cores)
            result["parallel_floor"] = (parallel + result["parallel_floor_after"]) / 2
            result["parallel_floor_before"] = parallel
            if not args.no_airflow:
                air_config = make_config(work / "airflow-run", bases, args.feeds, args.items, args.batch)
                result["airflow"] = run_airflow(air_config, work / "airflow-run", exclude)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print_table(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
