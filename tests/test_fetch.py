"""The fetcher against a real loopback server: limits, guard, robots, charsets, bombs."""

from __future__ import annotations

import asyncio
import gzip
import resource
import time
import zlib
from collections.abc import Iterator

import pytest

from seedwatch.fetch import Fetcher, HttpPolicy, decode_html, fetch_pages_sync, parse_retry_after
from seedwatch.localsite import LocalSite, Request, Response
from seedwatch.models import FetchStatus
from seedwatch.netguard import blocked_reason, parse_networks

LOOPBACK = ["127.0.0.1/32"]
PAGE = "<html><head><title>Haber</title></head><body><p>Trablus ve Ankara</p></body></html>"


def policy(**overrides: object) -> HttpPolicy:
    return HttpPolicy(allow_networks=LOOPBACK, **overrides)  # type: ignore[arg-type]


def run(coro):  # noqa: ANN001, ANN201 - tiny test helper
    return asyncio.run(coro)


async def get(site_url: str, pol: HttpPolicy, **kwargs: object):  # noqa: ANN201
    async with Fetcher(pol) as fetcher:
        return await fetcher.get(site_url, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def site() -> Iterator[LocalSite]:
    with LocalSite() as local:
        yield local


def test_page_is_fetched_decoded_and_sends_user_agent(site: LocalSite) -> None:
    site.add("/a", PAGE)
    page = fetch_pages_sync([site.url("/a")], policy())[0]
    assert page.status == FetchStatus.OK
    assert page.html == PAGE
    agent = next(r.headers["user-agent"] for r in site.requests if r.path == "/a")
    assert "mailto:" in agent


def test_conditional_get_returns_304(site: LocalSite) -> None:
    site.add("/feed", "<rss/>", content_type="application/rss+xml")
    first = run(get(site.url("/feed"), policy(), accept="feed"))
    again = run(get(site.url("/feed"), policy(), accept="feed", headers={"If-None-Match": first.headers["etag"]}))
    assert (first.http_status, again.http_status, again.status) == (200, 304, FetchStatus.OK)
    assert again.body == b""


def test_429_and_500_report_http_error_with_retry_after(site: LocalSite) -> None:
    site.add("/busy", "slow down", status=429, headers={"Retry-After": "120"})
    site.add("/broken", "oops", status=500)
    busy = run(get(site.url("/busy"), policy()))
    broken = run(get(site.url("/broken"), policy()))
    assert (busy.status, busy.http_status, busy.retry_after_s) == (FetchStatus.HTTP_ERROR, 429, 120.0)
    assert (broken.status, broken.http_status, broken.retry_after_s) == (FetchStatus.HTTP_ERROR, 500, None)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0


def test_drip_feeding_server_is_cut_off_by_the_total_timeout(site: LocalSite) -> None:
    def drip(_request: Request) -> Response:
        def chunks() -> Iterator[bytes]:
            for _ in range(100):
                time.sleep(0.05)
                yield b"<p>"

        return Response(body=chunks())

    site.add_handler("/drip", drip)
    started = time.monotonic()
    result = run(get(site.url("/drip"), policy(total_timeout_s=0.6, read_timeout_s=0.5)))
    assert result.status == FetchStatus.TIMEOUT
    assert time.monotonic() - started < 2.5


def test_redirect_to_private_address_is_refused_at_the_hop(site: LocalSite) -> None:
    site.add("/go", "", status=302, headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    site.add("/hop", "", status=301, headers={"Location": "/a"})
    site.add("/a", PAGE)
    refused = run(get(site.url("/go"), policy()))
    assert refused.status == FetchStatus.BLOCKED
    assert refused.final_url == "http://169.254.169.254/latest/meta-data/"
    followed = run(get(site.url("/hop"), policy()))
    assert (followed.status, followed.final_url, followed.text) == (FetchStatus.OK, site.url("/a"), PAGE)
    # loopback itself is refused unless allow-listed
    assert run(get(site.url("/a"), HttpPolicy())).status == FetchStatus.BLOCKED


def test_redirect_loop_stops_at_the_limit(site: LocalSite) -> None:
    site.add("/loop", "", status=302, headers={"Location": "/loop"})
    result = run(get(site.url("/loop"), policy(max_redirects=3)))
    assert result.status == FetchStatus.HTTP_ERROR
    assert "redirects" in (result.error or "")
    assert sum(r.path == "/loop" for r in site.requests) == 4


def test_guard_refuses_internal_addresses() -> None:
    for address in ["127.0.0.1", "10.1.2.3", "192.168.0.1", "169.254.169.254", "::1",
                    "::ffff:10.0.0.1", "fd00:ec2::254", "100.100.100.200", "0.0.0.0"]:  # fmt: skip
        assert blocked_reason(address) is not None, address
    assert blocked_reason("93.184.216.34") is None
    assert blocked_reason("127.0.0.1", parse_networks(LOOPBACK)) is None


def test_50_mb_streamed_response_is_cut_off_without_memory_spike(site: LocalSite) -> None:
    site.add_handler("/huge", lambda _r: Response(body=(b"x" * 1_000_000 for _ in range(50))))
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run(get(site.url("/huge"), policy(max_body_bytes=2_000_000)))
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    assert result.status == FetchStatus.TOO_LARGE
    assert result.body == b""
    assert grown_kb < 30_000  # far below the 50 MB served
    assert sum(r.path == "/huge" for r in site.requests) == 1


def test_gzip_bomb_is_stopped_at_the_decompressed_limit(site: LocalSite) -> None:
    bomb = gzip.compress(b"\0" * 50_000_000, compresslevel=9)  # ~50 KB on the wire, 1000:1
    site.add("/bomb", bomb, headers={"Content-Encoding": "gzip"})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = run(get(site.url("/bomb"), policy(max_body_bytes=1_000_000)))
    assert result.status == FetchStatus.TOO_LARGE
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 30_000


def test_gzip_and_deflate_bodies_are_decompressed(site: LocalSite) -> None:
    site.add("/gz", gzip.compress(PAGE.encode()), headers={"Content-Encoding": "gzip"})
    raw_deflate = zlib.compressobj(wbits=-15)
    site.add("/deflate", raw_deflate.compress(PAGE.encode()) + raw_deflate.flush(),
             headers={"Content-Encoding": "deflate"})  # fmt: skip
    assert run(get(site.url("/gz"), policy())).text == PAGE
    assert run(get(site.url("/deflate"), policy())).text == PAGE


def test_wrong_and_missing_charsets_are_detected(site: LocalSite) -> None:
    arabic = "<html><body><p>" + "العلاقات الليبية التركية وتوقيع مذكرة التفاهم البحرية " * 20 + "</p></body></html>"
    turkish = (
        "<html><body><p>" + "Türkiye ile Libya arasında imzalanan mutabakat muhtırası " * 20 + "</p></body></html>"
    )
    site.add("/utf8-claims-latin1", arabic.encode(), content_type="text/html; charset=iso-8859-1")
    site.add("/cp1254-no-charset", turkish.encode("cp1254"), content_type="text/html")
    site.add("/cp1256-declared", arabic.encode("cp1256"), content_type="text/html; charset=windows-1256")
    assert run(get(site.url("/utf8-claims-latin1"), policy())).text == arabic
    assert run(get(site.url("/cp1256-declared"), policy())).text == arabic
    guessed = run(get(site.url("/cp1254-no-charset"), policy())).text or ""
    assert "Türkiye ile Libya arasında" in guessed
    meta = '<meta charset="koi8-r"><p>Ливия и Турция</p>'.encode("koi8-r")
    assert decode_html(meta, "text/html")[0].endswith("Ливия и Турция</p>")


def test_content_type_is_checked(site: LocalSite) -> None:
    site.add("/img", b"\x89PNG" + b"\0" * 5000, content_type="image/png")
    site.add("/feed", "<rss version='2.0'/>", content_type="application/rss+xml")
    assert run(get(site.url("/img"), policy())).status == FetchStatus.BAD_CONTENT_TYPE
    assert run(get(site.url("/feed"), policy())).status == FetchStatus.BAD_CONTENT_TYPE
    assert run(get(site.url("/feed"), policy(), accept="feed")).status == FetchStatus.OK


def test_robots_txt_disallow_is_respected_and_cached(site: LocalSite) -> None:
    site.add("/robots.txt", "User-agent: *\nDisallow: /private/\n", content_type="text/plain")
    site.add("/private/story", PAGE)
    site.add("/public/story", PAGE)
    pages = fetch_pages_sync([site.url("/private/story"), site.url("/public/story")], policy())
    assert [p.status for p in pages] == [FetchStatus.ROBOTS, FetchStatus.OK]
    assert sum(r.path == "/robots.txt" for r in site.requests) == 1
    assert not any(r.path == "/private/story" for r in site.requests)
    ignored = fetch_pages_sync([site.url("/private/story")], policy(respect_robots=False))
    assert ignored[0].status == FetchStatus.OK


def test_robots_txt_behind_a_redirect_is_followed(site: LocalSite) -> None:
    site.add("/robots.txt", "", status=301, headers={"Location": "/static/robots.txt"})
    site.add("/static/robots.txt", "User-agent: seedwatch\nDisallow: /\n", content_type="text/plain")
    site.add("/story", PAGE)
    assert fetch_pages_sync([site.url("/story")], policy())[0].status == FetchStatus.ROBOTS


def test_per_host_concurrency_and_delay_are_honoured() -> None:
    with LocalSite(latency_s=0.1) as site:
        for n in range(6):
            site.add(f"/p{n}", PAGE)
        urls = [site.url(f"/p{n}") for n in range(6)]
        started = time.monotonic()
        pages = fetch_pages_sync(urls, policy(per_host_concurrency=2, respect_robots=False))
        elapsed = time.monotonic() - started
        assert [p.url for p in pages] == urls  # order preserved
        assert all(p.status == FetchStatus.OK for p in pages)
        assert elapsed >= 0.3  # 6 pages, 2 at a time, 0.1 s each
        site.requests.clear()
        fetch_pages_sync(urls[:3], policy(per_host_delay_s=0.2, respect_robots=False))
        starts = sorted(r.at for r in site.requests)
        assert starts[-1] - starts[0] >= 0.35


def test_unresolvable_host_and_bad_scheme() -> None:
    bad = fetch_pages_sync(["ftp://example.org/x", "http://nonexistent.invalid/x"], policy())
    assert [p.status for p in bad] == [FetchStatus.BLOCKED, FetchStatus.NETWORK]


def test_hop_is_sent_to_the_checked_address_with_the_real_host_header(site: LocalSite) -> None:
    site.add("/a", PAGE)
    url = f"http://localhost:{site.port}/a"  # resolved by the guard, then pinned to 127.0.0.1
    page = fetch_pages_sync([url], HttpPolicy(allow_networks=[*LOOPBACK, "::1/128"], respect_robots=False))[0]
    assert (page.status, page.html) == (FetchStatus.OK, PAGE)
    assert site.requests[-1].headers["host"] == f"localhost:{site.port}"
    refused = fetch_pages_sync([url], HttpPolicy(respect_robots=False))[0]
    assert refused.status == FetchStatus.BLOCKED  # "localhost" is loopback, whatever its name


def test_connections_are_reused_per_host_and_never_shared_by_two_names_of_one_address(site: LocalSite) -> None:
    site.add("/a", PAGE)
    by_name, by_address = f"http://localhost:{site.port}/a", site.url("/a")  # both reach 127.0.0.1

    async def fetch_in_turn() -> None:
        async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, respect_robots=False)) as fetcher:
            for url in (by_name, by_address, by_name, by_address):
                assert (await fetcher.get(url)).status == FetchStatus.OK

    run(fetch_in_turn())
    hosts = [(request.headers["host"].split(":")[0], request.peer) for request in site.requests]
    assert [host for host, _ in hosts] == ["localhost", "127.0.0.1", "localhost", "127.0.0.1"]
    assert hosts[0][1] == hosts[2][1] and hosts[1][1] == hosts[3][1]  # kept alive
    assert hosts[0][1] != hosts[1][1]  # one connection per name


def test_no_cookie_is_kept_from_one_request_to_the_next(site: LocalSite) -> None:
    # Requests are addressed to the checked IP, so a cookie jar would hand one site's
    # cookies to every other site on that address; the fetcher keeps none at all.
    site.add("/login", PAGE, headers={"Set-Cookie": "session=secret; Path=/"})
    site.add("/a", PAGE)

    async def fetch_in_turn() -> None:
        async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, respect_robots=False)) as fetcher:
            for url in (site.url("/login"), site.url("/a"), f"http://localhost:{site.port}/a"):
                assert (await fetcher.get(url)).status == FetchStatus.OK

    run(fetch_in_turn())
    assert [request.path for request in site.requests] == ["/login", "/a", "/a"]
    assert all("cookie" not in request.headers for request in site.requests)
    first = site.requests[0].headers
    assert first["accept-encoding"] == "gzip, deflate" and first["user-agent"].startswith("seedwatch")


def test_proxies_from_the_environment_are_ignored(site: LocalSite, monkeypatch: pytest.MonkeyPatch) -> None:
    # The guard checked the address the request goes to; a proxy would make that a lie.
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    site.add("/a", PAGE)

    async def fetch() -> FetchStatus:
        async with Fetcher(HttpPolicy(allow_networks=LOOPBACK, respect_robots=False)) as fetcher:
            return (await fetcher.get(site.url("/a"))).status

    assert run(fetch()) == FetchStatus.OK
    assert [request.path for request in site.requests] == ["/a"]


def test_iter_pages_yields_every_page_once(site: LocalSite) -> None:
    for n in range(20):
        site.add(f"/p{n}", f"<html><body>{n}</body></html>")
    urls = [site.url(f"/p{n}") for n in range(20)]

    async def collect() -> list[int]:
        async with Fetcher(policy(respect_robots=False)) as fetcher:
            return [index async for index, _page in fetcher.iter_pages(urls, window=4)]

    assert sorted(run(collect())) == list(range(20))


# -- budgets (issue 16) ---------------------------------------------------------------------


def test_one_budget_covers_a_redirect_chain_and_every_origins_robots_txt() -> None:
    """Five hops through five origins whose robots.txt each take 0.8 s: one total, not six."""

    def slow_robots(_request: Request) -> Response:
        time.sleep(0.8)
        return Response(body="User-agent: *\nAllow: /\n", content_type="text/plain")

    sites = [LocalSite().start() for _ in range(6)]
    try:
        for here, there in zip(sites, sites[1:], strict=False):
            here.add_handler("/robots.txt", slow_robots)
            here.add("/hop", "", status=302, headers={"Location": there.url("/hop")})
        sites[-1].add_handler("/robots.txt", slow_robots)
        sites[-1].add("/hop", PAGE)
        started = time.monotonic()
        result = run(get(sites[0].url("/hop"), policy(total_timeout_s=2.0, read_timeout_s=5.0)))
        elapsed = time.monotonic() - started
    finally:
        for local in sites:
            local.stop()
    assert result.status == FetchStatus.TIMEOUT
    assert elapsed < 3.0  # before: each robots.txt had its own 2 s, about 5 s in all


def test_bytes_after_the_end_of_a_gzip_member_count_against_the_limit(site: LocalSite) -> None:
    member = gzip.compress(PAGE.encode())

    def trailing(_request: Request) -> Response:
        return Response(
            body=(member if n == 0 else b"\0" * 1_000_000 for n in range(60)),
            headers={"Content-Encoding": "gzip"},
        )

    site.add_handler("/trailing", trailing)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.monotonic()
    result = run(get(site.url("/trailing"), policy(max_body_bytes=2_000_000)))
    assert result.status == FetchStatus.TOO_LARGE  # before: read all 60 MB, kept them, and said ok
    assert time.monotonic() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 30_000
    site.add("/small-trailer", member + b"\0" * 100, headers={"Content-Encoding": "gzip"})
    assert run(get(site.url("/small-trailer"), policy())).text == PAGE  # a little garbage is tolerated


def test_a_crawl_delay_defers_only_its_own_sites_pages(site: LocalSite) -> None:
    """One site asks for 5 s between requests: its later pages are left for the next run."""
    site.add("/robots.txt", "User-agent: *\nCrawl-delay: 5\n", content_type="text/plain")
    with LocalSite() as other:
        for n in range(3):
            site.add(f"/slow-{n}", PAGE)
            other.add(f"/fast-{n}", PAGE)
        slow = [site.url(f"/slow-{n}") for n in range(3)]
        fast = [f"http://localhost:{other.port}/fast-{n}" for n in range(3)]  # another host name

        async def fetch_all() -> dict[str, str | None]:
            async with Fetcher(policy(global_concurrency=2)) as fetcher:
                urls = [url for pair in zip(slow, fast, strict=True) for url in pair]
                return {
                    urls[index]: page and page.status.value
                    async for index, page in fetcher.iter_pages(urls, defer_after_s=1.0)
                }

        started = time.monotonic()
        outcome = run(fetch_all())
        elapsed = time.monotonic() - started
    assert [outcome[url] for url in fast] == ["ok", "ok", "ok"]
    assert [outcome[url] for url in slow] == ["ok", None, None]  # None: deferred, not fetched
    assert elapsed < 3.0  # before: 10 s, with every other site's pages waiting behind it
