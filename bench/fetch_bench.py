"""Fetcher throughput and memory on real article pages served locally with latency.

Serves the AEB benchmark pages (real news pages, gzipped as stored) repeated under distinct
URLs from a ``LocalSite`` in a separate process, with a delay per response, and fetches them
all with one ``Fetcher`` through ``Fetcher.iter_pages`` (bounded in-flight window). Reports
pages per second and the fetcher process's RSS over the run (peak and samples), so a leak
or an unbounded buffer shows as growth.

    .venv/bin/python bench/fetch_bench.py                 # 3000 pages, 50 ms latency
    .venv/bin/python bench/fetch_bench.py --pages 500 --latency 0.05 --json

The pages are spread over ``--hosts`` loopback addresses (127.0.0.1, 127.0.0.2, ...), each a
separate server, so the default politeness limits (4 per host, 32 in all) apply as they
would across several real sites.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seedwatch.fetch import Fetcher, HttpPolicy  # noqa: E402
from seedwatch.localsite import LocalSite, Request, Response  # noqa: E402
from seedwatch.models import FetchStatus  # noqa: E402

DEFAULT_PAGES = [
    Path("/work/shared/data/extraction/aeb/html"),
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "extraction" / "aeb" / "html",
]


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def _serve(
    directory: str,
    pages: int,
    hosts: int,
    latency: float,
    port_queue: multiprocessing.Queue,
    stop: multiprocessing.Event,
) -> None:  # type: ignore[type-arg]
    bodies = [path.read_bytes() for path in sorted(Path(directory).glob("*.html.gz"))]

    def page(request: Request) -> Response:
        number = int(request.path.rsplit("/", 1)[-1])
        return Response(
            body=bodies[number % len(bodies)],
            headers={"Content-Encoding": "gzip"},
            content_type="text/html; charset=utf-8",
        )

    sites = [LocalSite(host=f"127.0.0.{n + 1}", latency_s=latency).start() for n in range(hosts)]
    for number in range(pages):
        sites[number % hosts].add_handler(f"/article/{number}", page)
    port_queue.put([site.base_url for site in sites])
    stop.wait()
    for site in sites:
        site.stop()


async def _fetch_all(urls: list[str], policy: HttpPolicy) -> dict[str, object]:
    statuses: dict[str, int] = {}
    samples: list[float] = []
    body_bytes = 0
    cpu_before = time.process_time()
    started = time.perf_counter()
    async with Fetcher(policy) as fetcher:
        async for done, (_index, page) in _enumerate(fetcher.iter_pages(urls)):
            statuses[page.status.value] = statuses.get(page.status.value, 0) + 1
            if page.status is FetchStatus.OK and page.html:
                body_bytes += len(page.html)
            if done % max(1, len(urls) // 10) == 0:
                samples.append(round(_rss_mb(), 1))
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    return {
        "fetcher_cpu_s": round(cpu, 2),
        "pages": len(urls),
        "seconds": round(elapsed, 2),
        "pages_per_s": round(len(urls) / elapsed, 1),
        "decoded_mb": round(body_bytes / 1e6, 1),
        "statuses": statuses,
        "rss_samples_mb": samples,
    }


async def _enumerate(iterator):  # noqa: ANN001, ANN202 - tiny helper
    count = 0
    async for item in iterator:
        count += 1
        yield count, item


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--per-host", type=int, default=4)
    parser.add_argument("--hosts", type=int, default=8, help="loopback addresses 127.0.0.1..N")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    directory = next((d for d in DEFAULT_PAGES if d.is_dir() and any(d.glob("*.html.gz"))), None)
    if directory is None:
        sys.exit("no AEB pages found")
    context = multiprocessing.get_context("spawn")
    ports: multiprocessing.Queue = context.Queue()  # type: ignore[type-arg]
    stop = context.Event()
    server = context.Process(
        target=_serve, args=(str(directory), args.pages, args.hosts, args.latency, ports, stop), daemon=True
    )
    server.start()
    try:
        bases = ports.get(timeout=60)
        urls = [f"{bases[n % args.hosts]}/article/{n}" for n in range(args.pages)]
        policy = HttpPolicy(
            allow_networks=["127.0.0.0/8"],
            global_concurrency=args.concurrency,
            per_host_concurrency=args.per_host,
        )
        rss_before = _rss_mb()
        report = asyncio.run(_fetch_all(urls, policy))
        report.update(
            latency_s=args.latency,
            hosts=args.hosts,
            concurrency=args.concurrency,
            per_host=args.per_host,
            source_pages=len(list(directory.glob("*.html.gz"))),
            rss_before_mb=round(rss_before, 1),
            peak_rss_mb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1000, 1),
        )
    finally:
        stop.set()
        server.join(timeout=10)
        if server.is_alive():
            server.terminate()
    report["server_cpu_s"] = round(
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_utime + resource.getrusage(resource.RUSAGE_CHILDREN).ru_stime, 2
    )
    if args.json:
        print(json.dumps(report))
    else:
        for key, value in report.items():
            print(f"{key:>16}: {value}")


if __name__ == "__main__":
    main()
