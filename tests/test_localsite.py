"""LocalSite: a real loopback server that the HTTP tests, demo and benchmarks rely on."""

from __future__ import annotations

import gzip
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from seedwatch.localsite import LocalSite, Request, Response


def test_static_route_answers_conditional_gets_with_304() -> None:
    with LocalSite() as site:
        site.add("/page", "<p>hello</p>")
        first = httpx.get(site.url("/page"))
        assert first.status_code == 200
        assert first.text == "<p>hello</p>"
        by_etag = httpx.get(site.url("/page"), headers={"If-None-Match": first.headers["etag"]})
        by_date = httpx.get(
            site.url("/page"),
            headers={"If-Modified-Since": first.headers["last-modified"]},
        )
        assert (by_etag.status_code, by_date.status_code) == (304, 304)
        assert [r.path for r in site.requests] == ["/page"] * 3
        assert site.requests[1].headers["if-none-match"] == first.headers["etag"]


def test_unknown_path_is_404_and_handlers_can_stream() -> None:
    def drip(request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(3):
                yield b"abc"

        return Response(body=chunks(), headers={"X-Query": request.query})

    with LocalSite() as site:
        site.add_handler("/drip", drip)
        assert httpx.get(site.url("/missing")).status_code == 404
        streamed = httpx.get(site.url("/drip?x=1"))
        assert streamed.content == b"abcabcabc"
        assert streamed.headers["x-query"] == "x=1"


def test_serve_directory_serves_gz_files_with_content_encoding(tmp_path: Path) -> None:
    (tmp_path / "story.html.gz").write_bytes(gzip.compress(b"<h1>Trablus</h1>"))
    with LocalSite() as site:
        site.serve_directory("/pages", tmp_path)
        decoded = httpx.get(site.url("/pages/story.html"))
        assert decoded.headers["content-encoding"] == "gzip"
        assert decoded.text == "<h1>Trablus</h1>"
        raw = httpx.get(site.url("/pages/story.html.gz"))
        assert raw.headers["content-type"] == "application/gzip"
        assert gzip.decompress(raw.content) == b"<h1>Trablus</h1>"
        assert httpx.get(site.url("/pages/../secret")).status_code == 404


def test_latency_is_added_to_each_response_and_disconnects_are_survived() -> None:
    with LocalSite(latency_s=0.1) as site:
        site.add_handler("/huge", lambda _r: Response(body=(b"x" * 65536 for _ in range(1000))))
        site.add("/ok", "ok")
        with httpx.stream("GET", site.url("/huge")) as response:
            next(response.iter_bytes())  # read a little, then hang up
        started = time.monotonic()
        assert httpx.get(site.url("/ok")).text == "ok"
        assert time.monotonic() - started >= 0.1
