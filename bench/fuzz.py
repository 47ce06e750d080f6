"""A bounded-time fuzz harness for feed parsing and article extraction.

    .venv/bin/python bench/fuzz.py --seconds 60                      # both targets, 60 s each
    .venv/bin/python bench/fuzz.py --target feeds --seconds 600 --seed 7
    .venv/bin/python bench/fuzz.py --engine atheris --seconds 60     # needs `pip install atheris`

Seeds are the real fixtures: every feed in ``tests/fixtures/feeds`` (and the demo site's
feeds), every page in ``tests/fixtures/extraction`` (gzipped AEB pages). The built-in engine
mutates them (bit flips, byte and token insertions, deletions, duplications, truncation,
splicing two seeds, amplifying a chunk, re-encoding) and keeps any mutant whose outcome is
new (a cheap stand-in for coverage feedback).

Each input runs in a forked worker process, so a hang is cut off after ``--budget`` seconds
(the worker is killed and replaced) and a crash of the interpreter itself is caught too.

What counts:

- **crash**: an exception out of the target, or a broken invariant (an entry URL that is not
  http(s), a date in the future, more than ``MAX_ENTRIES`` entries). The extraction target
  calls ``extractors.news._extract``, below ``extract_article``'s catch-all: in production
  such an exception does not stop the run, but it costs the article its body;
- **hang**: one input running longer than ``--budget`` seconds.

Crashing and hanging inputs are written to ``--out`` with the traceback. The process exits
with status 1 when anything crashed or hung.

With ``--engine atheris`` (or ``auto`` when atheris is importable) libFuzzer drives the same
targets with coverage feedback, bounded by ``-max_total_time``; atheris is not a dependency.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
import logging
import multiprocessing
import os
import random
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import structlog  # noqa: E402

from extractors.news import _extract  # noqa: E402
from seedwatch.feeds import MAX_ENTRIES, parse_feed  # noqa: E402

NOW = datetime(2025, 9, 10, 12, 0, tzinfo=UTC)
PAGE_URL = "https://news.example.org/2025/09/10/story.html"
FEED_URL = "https://news.example.org/feed.xml"

# Tokens that tend to matter to XML and HTML parsers, date parsers and decoders.
TOKENS = [
    b"<", b">", b"&", b";", b'"', b"'", b"/", b"]]>", b"<![CDATA[", b"<!--", b"-->", b"<!DOCTYPE x [",
    b"<!ENTITY a 'b'>", b"&a;", b"&#0;", b"&#x10FFFF;", b"&#xD800;", b"&amp;", b"&lt;", b"\x00", b"\xff\xfe",
    b"\xfe\xff", b"\xef\xbb\xbf", b"\xc3\x28", b"\xe2\x82", b"\xf0\x9f\x92\xa9", b"\r\n", b"\t",
    b'<?xml version="1.0" encoding="utf-16"?>', b'encoding="koi8-r"', b"<item>", b"</item>", b"<entry>",
    b"<link>", b"http://[", b"javascript:", b"//a]", b"<pubDate>9999-12-31T23:59:59-01:00</pubDate>",
    b"<pubDate>0001-01-01T00:00:00+01:00</pubDate>", b"<updated>2099-01-01</updated>",
    b'<meta property="article:published_time" content="0001-01-01T00:00:00+01:00">',
    b'<meta charset="utf-16">', b'<meta charset="x-unknown">', b'<link rel="canonical" href="http://[">',
    b'<script type="application/ld+json">{"@type":"NewsArticle","datePublished":"99999"}</script>',
    b"<div>" * 300, b"</div>" * 300, b"<table><tr><td>", b"<p>", b"</p>", b"<br/>", b"<html>", b"</html>",
    # HTTP: headers, charsets, encodings, redirects, hosts
    b"\r\nLocation: ", b"\r\nContent-Encoding: gzip", b"\r\nContent-Encoding: deflate", b"\r\nETag: \"\xc3\xa9\"",
    b"\r\nLast-Modified: \xff", b"; charset=rot13", b"; charset=undefined", b"; charset=utf-7", b"\r\nCrawl-delay: 9",
    b"HTTP/1.1 302 Found", b"HTTP/1.1 304 Not Modified", b"HTTP/1.1 200 OK", b"http://t\xc3\xbcrkiye.example/",
    b"http://\xef\xbd\x8c\xef\xbd\x8f/", b"\x1f\x8b\x08\x00", b"\r\nTransfer-Encoding: chunked", b"&#1;", b"%00",
]  # fmt: skip


# -- targets -------------------------------------------------------------------------


def fuzz_feed(data: bytes) -> str:
    """Parse one feed; returns a signature of the outcome (for the corpus)."""
    parsed = parse_feed(data, feed_id="fuzz", base_url=FEED_URL, now=NOW)
    if len(parsed.entries) > MAX_ENTRIES:
        raise AssertionError(f"{len(parsed.entries)} entries, more than MAX_ENTRIES")
    for entry in parsed.entries:
        if entry.url is not None and not entry.url.startswith(("http://", "https://")):
            raise AssertionError(f"entry URL {entry.url!r} is not http(s)")
        when = entry.published_at
        if when is not None and (when.tzinfo is None or when > NOW):
            raise AssertionError(f"entry date {when!r} is naive or in the future")
        if any(ord(c) < 9 for c in entry.title + entry.summary):
            raise AssertionError("a control character in a title or summary")
    error = (parsed.error or "").split(":", 1)[0]
    return f"{error}|{min(len(parsed.entries), 5)}|{parsed.encoding}|{bool(parsed.title)}"


def fuzz_extraction(data: bytes) -> str:
    result = _extract(data, PAGE_URL, None, NOW)
    if not isinstance(result.text, str):
        raise AssertionError("text is not a string")
    for when in (result.published_at, result.modified_at):
        if when is not None and (when.tzinfo is None or when > NOW + timedelta(days=1)):
            raise AssertionError(f"date {when!r} is naive or in the future")
    words = 0 if result.word_count == 0 else 1 if result.word_count < 25 else 2 if result.word_count < 200 else 3
    return f"{result.method}|{words}|{result.language}|{result.published_source}|{bool(result.title)}"


def feed_seeds() -> list[bytes]:
    paths = sorted((ROOT / "tests/fixtures/feeds").glob("*.xml")) + sorted((ROOT / "demo/site/feeds").glob("*.xml"))
    return [path.read_bytes() for path in paths]


def page_seeds() -> list[bytes]:
    paths = sorted((ROOT / "tests/fixtures/extraction").rglob("*.html.gz"))
    return [gzip.decompress(path.read_bytes()) for path in paths]


# -- the HTTP target: the real Fetcher and poll_feed against a loopback server -------------

FUZZ_STATE_URL_ENV = "SEEDWATCH_FUZZ_STATE_URL"  # e.g. a PostgreSQL URL; default a SQLite file
SEPARATOR = b"\n--\n"  # input = URL path suffix, SEPARATOR, raw HTTP response (status line, headers, body)


class _RawServer:
    """A loopback TCP server answering every request with the current raw bytes (any headers)."""

    def __init__(self) -> None:
        import socket
        import threading

        self.response = b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        import threading

        while True:
            conn, _ = self._listener.accept()
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: object) -> None:
        import socket

        assert isinstance(conn, socket.socket)
        with conn:
            conn.settimeout(2)
            try:
                head = b""
                while b"\r\n\r\n" not in head and len(head) < 65536:
                    chunk = conn.recv(4096)
                    if not chunk:
                        return
                    head += chunk
                conn.sendall(self.response)
            except OSError:
                return


_http: dict[str, object] = {}


def _http_fixture() -> tuple[_RawServer, object]:
    """One server and one state store per worker process."""
    if not _http:
        from seedwatch.store import StateStore

        url = os.environ.get(FUZZ_STATE_URL_ENV) or f"sqlite:///{tempfile.mkdtemp(prefix='fuzz-state-')}/state.db"
        _http["server"] = _RawServer()
        _http["store"] = StateStore.open(url)
    return _http["server"], _http["store"]  # type: ignore[return-value]


def fuzz_http(data: bytes) -> str:
    """Fetch a page and poll a feed from a server answering ``data``; record the feed's items.

    Invariants: nothing raises (every outcome is a status), validators kept for the next
    request are printable ASCII, and whatever the feed's fields hold, the store takes them.
    """
    import asyncio

    from seedwatch.fetch import Fetcher, HttpPolicy
    from seedwatch.models import FetchStatus, PollStatus
    from seedwatch.pipeline import _new_articles
    from seedwatch.polling import FeedState, poll_feed

    server, store = _http_fixture()
    suffix, _, server.response = data.partition(SEPARATOR)
    url = f"http://127.0.0.1:{server.port}/" + suffix[:300].decode("utf-8", "replace")
    policy = HttpPolicy(allow_networks=["127.0.0.1/32"], total_timeout_s=3, read_timeout_s=2, max_body_bytes=2_000_000)

    async def both() -> tuple[object, object]:
        async with Fetcher(policy) as fetcher:
            page = await fetcher.fetch_page(url)
            polled = await poll_feed(fetcher, feed_id="fuzz", url=url, state=FeedState(etag='"é"'), now=NOW)
            return page, polled

    page, polled = asyncio.run(both())
    if page.status not in FetchStatus or polled.status not in PollStatus:  # type: ignore[attr-defined]
        raise AssertionError("an outcome without a status")
    for validator in (polled.etag, polled.last_modified):  # type: ignore[attr-defined]
        if validator is not None and not (validator.isascii() and validator.isprintable()):
            raise AssertionError(f"validator {validator!r} cannot be sent back")
    feed = {"feed_id": "fuzz", "outlet": "fuzz.example", "country": "US", "language": "en"}
    found, _ = _new_articles(feed, polled.entries)  # type: ignore[attr-defined]
    store.record_discovered(found, now=NOW)  # type: ignore[attr-defined]
    return f"{page.status.value}|{page.http_status}|{polled.status.value}|{min(len(found), 3)}"  # type: ignore[attr-defined]


def http_seeds() -> list[bytes]:
    page = (ROOT / "demo/site/articles").glob("*.html")
    html = next(iter(sorted(page))).read_bytes()
    feed = (ROOT / "demo/site/feeds/wire.xml").read_bytes()
    import gzip as gz

    def response(status: str, headers: list[str], body: bytes) -> bytes:
        lines = [f"HTTP/1.1 {status}", *headers, f"Content-Length: {len(body)}", "", ""]
        return "\r\n".join(lines).encode("utf-8") + body

    return [
        b"a.html" + SEPARATOR + response("200 OK", ["Content-Type: text/html; charset=utf-8"], html),
        b"b&#1;.html" + SEPARATOR + response("200 OK", ['Content-Type: text/html; charset="rot13"'], html),
        "haber-ı.html".encode() + SEPARATOR + response("302 Found", ["Location: http://türkiye.example/x"], b""),
        b"r" + SEPARATOR + response("301 Moved", ["Location: /b\x01.html"], b""),
        b"r2" + SEPARATOR + response("302 Found", ["Location: http://[::1"], b""),
        b"feed.xml" + SEPARATOR + response("200 OK", ['ETag: "\xc3\xbc"', "Last-Modified: D\xc3\xbcn"], feed),
        b"feed2.xml"
        + SEPARATOR
        + response(
            "200 OK", ["Content-Type: application/rss+xml"], feed.replace(b"<guid", b"<guid>\x00</guid><guid", 1)
        ),
        b"gz"
        + SEPARATOR
        + response("200 OK", ["Content-Encoding: gzip", "Content-Type: text/html"], gz.compress(html) + b"\x00" * 5000),
        b"304" + SEPARATOR + b'HTTP/1.1 304 Not Modified\r\nETag: "\xff"\r\n\r\n',
    ]


@dataclass(frozen=True)
class Target:
    run: Callable[[bytes], str]
    seeds: Callable[[], list[bytes]]
    max_len: int  # mutants are cut to this size


TARGETS = {
    "feeds": Target(fuzz_feed, feed_seeds, 1_000_000),
    "extraction": Target(fuzz_extraction, page_seeds, 2_000_000),
    "http": Target(fuzz_http, http_seeds, 200_000),
}


# -- mutations ----------------------------------------------------------------------------


def _span(rng: random.Random, data: bytes) -> tuple[int, int]:
    start = rng.randrange(len(data) + 1)
    return start, min(len(data), start + rng.choice((1, 2, 4, 16, 64, 512, 4096)))


def mutate(rng: random.Random, data: bytes, corpus: list[bytes], max_len: int) -> bytes:
    """One to four stacked mutations of ``data``."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(9)
        if kind == 0 and out:  # flip bits
            for _ in range(rng.randint(1, 8)):
                out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
        elif kind == 1:  # insert a token
            at = rng.randrange(len(out) + 1)
            out[at:at] = rng.choice(TOKENS)
        elif kind == 2 and out:  # delete a span
            start, end = _span(rng, bytes(out))
            del out[start:end]
        elif kind == 3 and out:  # duplicate a span
            start, end = _span(rng, bytes(out))
            at = rng.randrange(len(out) + 1)
            out[at:at] = out[start:end]
        elif kind == 4 and out:  # truncate
            del out[rng.randrange(len(out)) :]
        elif kind == 5 and corpus:  # splice with another input
            other = rng.choice(corpus)
            out = out[: rng.randrange(len(out) + 1)] + other[rng.randrange(len(other) + 1) :]
        elif kind == 6 and out:  # amplify a chunk (deep nesting, many entries)
            start, end = _span(rng, bytes(out))
            out[end:end] = bytes(out[start:end]) * rng.choice((10, 100, 1000))
        elif kind == 7 and out:  # overwrite with random bytes
            start, end = _span(rng, bytes(out))
            out[start:end] = rng.randbytes(end - start)
        elif kind == 8:  # re-encode what is there
            text = bytes(out).decode("utf-8", "replace")
            encoding = rng.choice(("utf-16", "utf-16-le", "latin-1", "cp1254", "koi8-r", "utf-8-sig"))
            out = bytearray(text.encode(encoding, "replace"))
    return bytes(out[:max_len])


# -- the built-in engine -----------------------------------------------------------------


def _quiet() -> None:
    logging.disable(logging.CRITICAL)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _worker(conn: multiprocessing.connection.Connection, name: str) -> None:
    _quiet()
    run = TARGETS[name].run
    while True:
        try:
            data = conn.recv_bytes()
        except EOFError:
            return
        started = time.perf_counter()
        try:
            signature = run(data)
            conn.send(("ok", time.perf_counter() - started, signature, None))
        except Exception as exc:  # noqa: BLE001 - the point: report, do not die
            frames = traceback.extract_tb(exc.__traceback__)
            where = f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"
            summary = f"{type(exc).__name__} at {where}"
            conn.send(("crash", time.perf_counter() - started, summary, traceback.format_exc()))


class _Worker:
    def __init__(self, name: str) -> None:
        self.name = name
        self._start()

    def _start(self) -> None:
        context = multiprocessing.get_context("fork")  # the parent has imported everything: instant
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(child, self.name), daemon=True)
        self.process.start()
        child.close()

    def restart(self) -> None:
        self.process.kill()
        self.process.join()
        self._start()

    def stop(self) -> None:
        self.conn.close()
        self.process.kill()
        self.process.join()


@dataclass
class Figures:
    target: str
    engine: str
    seconds: float
    seeds: int
    executions: int = 0
    crashes: int = 0  # inputs that crashed
    unique_crashes: list[str] = field(default_factory=list)  # "Exception at file:line"
    hangs: int = 0
    corpus: int = 0  # seeds plus mutants with a new outcome
    outcomes: int = 0  # distinct outcome signatures seen
    slowest_s: float = 0.0

    @property
    def rate(self) -> float:
        return self.executions / self.seconds if self.seconds else 0.0


def _save(out: Path, kind: str, data: bytes, detail: str) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{kind}-{hashlib.sha1(data).hexdigest()[:12]}.bin"
    path.write_bytes(data)
    path.with_suffix(".txt").write_text(detail, encoding="utf-8")
    return path


def fuzz_builtin(name: str, seconds: float, budget: float, seed: int, out: Path) -> Figures:
    target = TARGETS[name]
    rng = random.Random(seed)
    corpus = target.seeds()
    figures = Figures(name, "builtin", seconds, len(corpus))
    seen: set[str] = set()
    worker = _Worker(name)
    started = time.monotonic()
    deadline = started + seconds
    queue = list(corpus)  # every seed once, unmutated, first
    try:
        while time.monotonic() < deadline:
            data = queue.pop() if queue else mutate(rng, rng.choice(corpus), corpus, target.max_len)
            try:
                worker.conn.send_bytes(data)
            except OSError:  # the worker died between inputs
                worker.restart()
                worker.conn.send_bytes(data)
            if not worker.conn.poll(budget):
                figures.hangs += 1
                path = _save(out / name, "hang", data, f"no answer within {budget} s")
                print(f"  hang ({budget} s): {path}", flush=True)
                worker.restart()
                figures.executions += 1
                continue
            try:
                status, elapsed, detail, trace = worker.conn.recv()
            except (EOFError, OSError):  # the interpreter itself died (a C-level crash, the OOM killer)
                status, elapsed, detail, trace = "crash", 0.0, f"worker died (exit {worker.process.exitcode})", ""
                worker.restart()
            figures.executions += 1
            figures.slowest_s = max(figures.slowest_s, elapsed)
            if status == "crash":
                figures.crashes += 1
                if detail not in figures.unique_crashes:
                    figures.unique_crashes.append(detail)
                    path = _save(out / name, "crash", data, f"{detail}\n\n{trace}")
                    print(f"  crash: {detail}: {path}", flush=True)
            elif detail not in seen:
                seen.add(detail)
                if len(corpus) < 2000:
                    corpus.append(data)
        figures.seconds = time.monotonic() - started
    finally:
        worker.stop()
    figures.corpus, figures.outcomes = len(corpus), len(seen)
    return figures


# -- atheris -------------------------------------------------------------------------


def fuzz_atheris(name: str, seconds: float, budget: float, out: Path) -> None:  # pragma: no cover - optional
    """Hand the target to libFuzzer (coverage-guided); it prints its own figures and exits."""
    import atheris

    target = TARGETS[name]
    corpus_dir = Path(tempfile.mkdtemp(prefix=f"seedwatch-fuzz-{name}-"))
    for index, data in enumerate(target.seeds()):
        (corpus_dir / f"seed-{index:04d}").write_bytes(data)
    _quiet()

    def one(data: bytes) -> None:
        target.run(data[: target.max_len])

    (out / name).mkdir(parents=True, exist_ok=True)
    argv = [
        sys.argv[0],
        str(corpus_dir),
        f"-max_total_time={int(seconds)}",
        f"-timeout={int(budget)}",
        f"-artifact_prefix={out / name}{os.sep}",
        f"-max_len={target.max_len}",
    ]
    atheris.instrument_all()
    atheris.Setup(argv, one)
    atheris.Fuzz()


# -- main ------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", choices=[*TARGETS, "all"], default="all")
    parser.add_argument("--seconds", type=float, default=60, help="fuzzing time per target")
    parser.add_argument("--budget", type=float, default=10, help="seconds one input may take before it is a hang")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the built-in engine")
    parser.add_argument("--engine", choices=("auto", "builtin", "atheris"), default="auto")
    parser.add_argument("--out", type=Path, default=ROOT / "var" / "fuzz", help="where findings are written")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()

    names = list(TARGETS) if args.target == "all" else [args.target]
    engine = args.engine
    if engine == "auto":
        try:
            import atheris  # noqa: F401
        except ImportError:
            engine = "builtin"
        else:
            engine = "atheris"
    if engine == "atheris":  # pragma: no cover - optional
        if len(names) != 1:
            parser.error("atheris fuzzes one target per process: add --target feeds or --target extraction")
        fuzz_atheris(names[0], args.seconds, args.budget, args.out)
        return 0

    results = []
    for name in names:
        print(
            f"fuzzing {name} for {args.seconds:.0f} s (budget {args.budget} s per input, seed {args.seed})", flush=True
        )
        results.append(fuzz_builtin(name, args.seconds, args.budget, args.seed, args.out))
    print()
    print(f"{'target':<11} {'seeds':>6} {'executions':>11} {'execs/s':>8} {'crashes':>8} {'unique':>7} {'hangs':>6} "
          f"{'outcomes':>9} {'slowest':>8}")  # fmt: skip
    for fig in results:
        print(
            f"{fig.target:<11} {fig.seeds:>6} {fig.executions:>11,} {fig.rate:>8.1f} {fig.crashes:>8} "
            f"{len(fig.unique_crashes):>7} {fig.hangs:>6} {fig.outcomes:>9} {fig.slowest_s:>7.2f}s"
        )
        for crash in fig.unique_crashes:
            print(f"  {fig.target}: {crash}")
    if args.json:
        args.json.write_text(json.dumps([{**asdict(f), "execs_per_s": round(f.rate, 1)} for f in results], indent=2))
    return 1 if any(f.crashes or f.hangs for f in results) else 0


if __name__ == "__main__":
    sys.exit(main())
