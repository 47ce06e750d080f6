"""A polite and safe async HTTP client for feeds and article pages.

One ``Fetcher`` owns one set of httpx connection pools and enforces, for every request:

- the SSRF guard (``seedwatch.netguard``) on every hop: redirects are followed here, not by
  httpx, and each hop is sent to the address that was checked (the Host header and TLS SNI
  keep the real name), so DNS rebinding cannot reach an internal address;
- robots.txt for article pages (protego, cached per origin; a missing or unreadable
  robots.txt allows everything; feeds are not checked: they exist to be polled);
- a global and a per-host concurrency limit, a minimum delay between requests to one host
  (the larger of ``per_host_delay_s`` and the site's Crawl-delay, capped at 30 s);
- connect, read and total timeouts (the total covers every hop, the robots.txt fetches
  of every origin on the way, and the whole body, so a server dripping one byte at a time
  is cut off and a redirect chain through many sites costs one budget, not one each);
- a maximum body size enforced while streaming, on the *decompressed* size: we only
  advertise gzip and deflate and inflate ourselves in bounded steps, so a compression bomb
  never occupies more than ``max_body_bytes`` (bytes after the end of a gzip member are
  counted too, and dropped);
- content-type checks (HTML for pages; XML, text or unlabelled for feeds);
- charset detection when the declaration is missing or wrong (a declared codec that is
  not a text encoding, such as ``rot13``, is ignored);
- internationalised host names: a link written with a Unicode host is sent to its IDNA
  (punycode) name, in the ``Host`` header and to the resolver;
- no cookies: every request stands alone, so one site's cookies never reach another site
  on the same address (requests are addressed to the checked IP, which is what a cookie
  jar would key them on).

Requests go straight to the transport: httpx's client would only add what the list above
does itself (redirects) or must not do (cookies, proxies from the environment: the guard
checks the real hop), for about 0.08 ms of CPU per request.

Expected failures come back as ``HttpResult``/``FetchedPage`` with a ``FetchStatus``.
Whatever one URL, header or body contains, ``get`` returns a result for it: an exception
nobody expected (a URL httpx refuses, a header that cannot be encoded, a codec that is not
one) becomes that URL's ``blocked`` or ``network`` result with the error, logged with its
traceback, so one item never stops a batch.
"""

from __future__ import annotations

import asyncio
import codecs
import email.utils
import functools
import re
import ssl
import time
import zlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from types import TracebackType
from typing import Literal, Self
from urllib.parse import urljoin, urlsplit, urlunsplit

import certifi
import charset_normalizer
import httpx
import idna
import pydantic
import structlog
from protego import Protego

from seedwatch.models import FetchedPage, FetchStatus
from seedwatch.netguard import check_host, parse_networks

__all__ = [
    "Fetcher",
    "HttpPolicy",
    "HttpResult",
    "PageDeferred",
    "ascii_url",
    "decode_html",
    "decode_text",
    "fetch_pages_sync",
    "parse_retry_after",
]

log = structlog.get_logger(__name__)

Accept = Literal["page", "feed", "robots"]

_PAGE_TYPES = ("text/html", "application/xhtml+xml")
_FEED_TYPES_REFUSED = ("image/", "audio/", "video/", "font/", "application/pdf", "application/zip")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_ROBOTS_MAX_BYTES = 500_000
_ROBOTS_TTL_S = 3600.0
_MAX_CRAWL_DELAY_S = 30.0
_CHUNK = 65_536
_RETRIED_ONCE = (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError)
# Errors of a URL itself (httpx.InvalidURL is not an httpx.HTTPError): a hard refusal.
_MALFORMED = (httpx.InvalidURL, idna.IDNAError, UnicodeError, ValueError)


class HttpPolicy(pydantic.BaseModel, extra="forbid"):
    """How politely and safely seedwatch talks HTTP (settings key ``http:``)."""

    # Sites block anonymous clients; a contact address lets them reach us instead.
    user_agent: str = "seedwatch/0.1 (+https://github.com/seedwatch/seedwatch; mailto:seedwatch@example.org)"
    # Bounds: a zero concurrency would wait for ever, a zero timeout fail every fetch.
    connect_timeout_s: float = pydantic.Field(5, gt=0)
    read_timeout_s: float = pydantic.Field(15, gt=0)  # between two reads
    total_timeout_s: float = pydantic.Field(30, gt=0)  # a whole fetch, all redirects and the body included
    max_body_bytes: int = pydantic.Field(5_000_000, ge=1)  # after decompression
    max_redirects: int = pydantic.Field(5, ge=0)
    global_concurrency: int = pydantic.Field(32, ge=1)
    per_host_concurrency: int = pydantic.Field(4, ge=1)
    per_host_delay_s: float = pydantic.Field(0.0, ge=0)  # minimum gap between request starts on one host
    respect_robots: bool = True
    allow_networks: list[str] = []  # CIDRs exempt from the SSRF guard, e.g. ["127.0.0.1/32"]
    # A page whose host's Crawl-delay would hold it longer than this after its batch started
    # is left for the next run, so one slow site never holds the other sites' articles.
    max_host_wait_s: float = pydantic.Field(60.0, ge=0)

    @pydantic.field_validator("user_agent")
    @classmethod
    def _one_header_line(cls, value: str) -> str:
        if not value.strip() or any(ord(char) < 32 or ord(char) == 127 for char in value):
            raise ValueError("must be one line of printable text (it is sent as the User-Agent header)")
        return value

    @pydantic.field_validator("allow_networks")
    @classmethod
    def _cidrs(cls, values: list[str]) -> list[str]:
        for value in values:
            try:
                parse_networks([value])
            except ValueError:
                raise ValueError(f"{value!r} is not an IP network; write CIDRs such as 127.0.0.1/32") from None
        return values


@dataclass(slots=True)
class HttpResult:
    """The outcome of one GET (after redirects). ``text`` is set for pages, not feeds."""

    url: str
    final_url: str
    status: FetchStatus
    http_status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    text: str | None = None
    error: str | None = None
    retry_after_s: float | None = None

    @property
    def content_type(self) -> str | None:
        return self.headers.get("content-type")


class _TooLargeError(Exception):
    pass


class PageDeferred(Exception):  # noqa: N818 - an outcome, raised only to callers that asked for it
    """The page's host would make it wait past the caller's ``defer_at``: fetch it in a later run."""


def ascii_url(url: str) -> str:
    """``url`` as sent on the wire: IDNA (punycode) host, non-ASCII path and query percent-encoded.

    Raises ``httpx.InvalidURL`` (or ``UnicodeError``) for what cannot be a URL: control
    characters, an invalid internationalised name.
    """
    if url.isascii() and url.isprintable():
        return url
    parts = urlsplit(url)
    host = parts.hostname or ""
    if not host.isascii():
        # UTS 46 mapping first, as browsers do: full-width and upper-case letters fold to
        # the name they stand for, then IDNA 2008 gives the xn-- labels.
        ascii_host = idna.encode(host, uts46=True, transitional=False).decode("ascii")
        netloc = parts.netloc.rsplit("@", 1)
        userinfo = netloc[0] + "@" if len(netloc) == 2 else ""
        port = f":{parts.port}" if parts.port is not None else ""
        url = urlunsplit(parts._replace(netloc=f"{userinfo}{ascii_host}{port}"))
    return str(httpx.URL(url))


class _BadEncodingError(Exception):
    pass


class _Inflater:
    """Decompress a streamed body in bounded steps, so output never exceeds ``limit``."""

    def __init__(self, encoding: str, limit: int) -> None:
        self.limit = limit
        self.size = 0
        self._raw_deflate_tried = encoding != "deflate"
        # 47 = auto-detect gzip or zlib header; deflate also tolerates raw streams below.
        self._inflate: zlib._Decompress | None = (
            zlib.decompressobj(47) if encoding in ("gzip", "x-gzip", "deflate") else None
        )

    def feed(self, chunk: bytes) -> list[bytes]:
        if self._inflate is None:
            return self._count([chunk])
        if self._inflate.eof:
            # Bytes after the end of the compressed stream: counted, so they cannot stream
            # for ever, and dropped (zlib would keep them all in ``unused_data``).
            self._count([chunk])
            return []
        out: list[bytes] = []
        data = chunk
        while data:
            try:
                piece = self._inflate.decompress(data, self.limit - self.size + 1)
            except zlib.error as exc:
                if not self._raw_deflate_tried and self.size == 0:
                    self._raw_deflate_tried = True
                    self._inflate = zlib.decompressobj(-15)
                    continue
                raise _BadEncodingError(str(exc)) from exc
            out.extend(self._count([piece]))
            data = self._inflate.unconsumed_tail
            if self._inflate.eof:
                self._count([self._inflate.unused_data])
                break
        return out

    def _count(self, pieces: list[bytes]) -> list[bytes]:
        self.size += sum(len(piece) for piece in pieces)
        if self.size > self.limit:
            raise _TooLargeError(f"body larger than {self.limit} bytes")
        return pieces


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):  # OverflowError: "1 Jan 99999999999999999999"
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([a-zA-Z0-9_.:-]+)""", re.I)
XML_ENCODING_DECLARATION = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([a-zA-Z0-9_.:-]+)""", re.I)
_LATIN1_NAMES = frozenset({"latin_1", "iso8859-1", "cp1252", "ascii"})


# Text codecs no page is written in: they decode markup into something else, or raise.
_NOT_PAGE_CODECS = frozenset({"idna", "punycode", "unicode-escape", "raw-unicode-escape", "undefined", "utf-7"})


_WIDE = ("utf-16", "utf-32")
_ASCII_PROBE = b'<html lang="en"><meta charset=x> ABCXYZ abcxyz 0123456789 &amp;</html>'


@functools.lru_cache(maxsize=256)
def _codec(name: str | None) -> str | None:
    """The codec a declared charset names, or None when it names no text encoding for pages."""
    if not name:
        return None
    try:
        info = codecs.lookup(name.strip().strip("\"'"))
    except (LookupError, ValueError):  # ValueError: a NUL in the name
        return None
    found = info.name
    # rot13, base64, zlib... are codecs but not text encodings: bytes.decode refuses them.
    if not getattr(info, "_is_text_encoding", True) or found in _NOT_PAGE_CODECS:
        return None
    # A page's markup is ASCII in every web encoding; a declaration that reads it as something
    # else (EBCDIC cp037, UTF-16 in a <meta>, which WHATWG reads as UTF-8) is wrong.
    # UTF-16 and UTF-32 are checked against the bytes instead (``decode_text``).
    try:
        if not found.startswith(_WIDE) and _ASCII_PROBE.decode(found) != _ASCII_PROBE.decode("ascii"):
            return None
    except (UnicodeError, LookupError):
        return None
    # Browsers read Latin-1 and ASCII labels as Windows-1252 (WHATWG), so do we.
    return "cp1252" if found in ("latin-1", "iso8859-1", "ascii") else found


def header_charset(content_type: str | None) -> str | None:
    if not content_type:
        return None
    match = re.search(r"charset\s*=\s*[\"']?([^;\"'\s]+)", content_type, re.I)
    return match.group(1) if match else None


def decode_html(body: bytes, content_type: str | None = None) -> tuple[str, str]:
    """Decode a page to text; returns ``(text, codec used)``.

    The declaration comes from the Content-Type header, else ``<meta charset>`` or the XML
    prolog; ``decode_text`` then checks it against the bytes.
    """
    head = body[:4096]
    declared = header_charset(content_type)
    if declared is None:
        match = _META_CHARSET.search(head) or XML_ENCODING_DECLARATION.search(head)
        declared = match.group(1).decode("ascii") if match else None
    return decode_text(body, declared)


def decode_text(body: bytes, declared: str | None) -> tuple[str, str]:
    """Decode ``body`` given a declared charset that may be missing or wrong.

    Order: BOM; then, when the declaration is Latin-1/1252/ASCII or missing, UTF-8 if the
    bytes are valid UTF-8 (the most common misconfiguration is UTF-8 labelled Latin-1);
    then the declared charset if the bytes decode cleanly with it; then a guess
    (``_guess_charset``).
    """
    for bom, bom_codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16")):
        if body.startswith(bom):
            return body[len(bom) :].decode(bom_codec, "replace"), bom_codec
    codec = _codec(declared)
    if codec and codec.startswith(_WIDE) and b"\x00" not in body[:4096]:
        codec = None  # markup in UTF-16/32 is full of NUL bytes: without any, the label is wrong
    candidates: list[str] = []
    if codec in _LATIN1_NAMES or codec is None:
        candidates.append("utf-8")
    if codec:
        candidates.append(codec)
    for name in candidates:
        try:
            return body.decode(name), name
        except (UnicodeError, LookupError):
            continue
    name = _guess_charset(body[:200_000]) or codec or "utf-8"
    try:
        return body.decode(name, "replace"), name
    except (UnicodeError, LookupError):  # a codec whose decoder ignores "replace"
        return body.decode("utf-8", "replace"), "utf-8"


# Encodings seen on the web; DOS code pages (cp852, cp775, ...) often "win" on short
# Turkish or Arabic text but are never what a news site serves.
_WEB_ENCODINGS = [  # most common on the web first: exact ties go to the earlier one
    "cp1252", "cp1251", "cp1256", "cp1254", "cp1250", "gb18030", "shift_jis", "euc_kr",
    "big5", "iso8859_9", "cp1253", "cp1255", "cp1257", "iso8859_2", "iso8859_5",
    "iso8859_6", "iso8859_7", "iso8859_8", "koi8_r", "koi8_u", "mac_cyrillic", "euc_jp",
    "utf_16",
]  # fmt: skip
_CHAOS_TIE = 0.05


def _guess_charset(sample: bytes) -> str | None:
    """charset-normalizer over web encodings; near-ties on chaos go to the most coherent.

    The tie-break matters for Turkish: cp1252 and cp1254 differ in six letters, and the
    less chaotic reading is often the wrong one.
    """
    matches = list(charset_normalizer.from_bytes(sample, cp_isolation=_WEB_ENCODINGS))
    if not matches:
        return None
    least_chaos = min(match.chaos for match in matches)
    close = [match for match in matches if match.chaos <= least_chaos + _CHAOS_TIE]
    rank = {name: index for index, name in enumerate(_WEB_ENCODINGS)}
    best = max(close, key=lambda match: (match.coherence, -rank.get(match.encoding, 99)))
    return best.encoding


def _content_type_allowed(content_type: str | None, accept: Accept, head: bytes) -> bool:
    mime = (content_type or "").split(";", 1)[0].strip().lower()
    if accept == "robots":
        return True
    if accept == "feed":
        return not mime.startswith(_FEED_TYPES_REFUSED)
    if mime in _PAGE_TYPES:
        return True
    if mime in ("", "application/octet-stream", "text/plain"):
        return b"<html" in head[:2048].lower() or b"<!doctype html" in head[:2048].lower()
    return False


class _PerOriginTransport(httpx.AsyncBaseTransport):
    """One small connection pool per origin, behind the one client.

    httpcore's pool re-examines every pooled connection (an expensive liveness check) each
    time a request starts or ends, so one pool of 32 connections cost more CPU than the
    fetching itself (docs/fetching.md). A pool per origin holds at most the host's share of
    connections (``per_host_concurrency``), whatever the number of hosts; the global
    semaphore bounds the total. Pools close with the client, at the end of each stage.
    """

    def __init__(self, policy: HttpPolicy) -> None:
        size = max(policy.per_host_concurrency, 2)
        self._limits = httpx.Limits(max_connections=size, max_keepalive_connections=size)
        self._tls = ssl.create_default_context(cafile=certifi.where())  # built once: it is slow
        self._pools: dict[tuple[bytes, str, bytes, int | None], httpx.AsyncHTTPTransport] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        # Requests go to a pinned address; the Host is part of the key, so two sites on one
        # address never share a connection (nor, over TLS, one made for the other's name).
        origin = (request.url.raw_scheme, request.headers.get("host", ""), request.url.raw_host, request.url.port)
        pool = self._pools.get(origin)
        if pool is None:
            pool = self._pools[origin] = httpx.AsyncHTTPTransport(verify=self._tls, limits=self._limits, retries=0)
        return await pool.handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools.values():
            await pool.aclose()
        self._pools.clear()


@dataclass(slots=True)
class _HostSlot:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0
    crawl_delay_s: float = 0.0


@dataclass(slots=True)
class _Robots:
    rules: Protego | None  # None: everything allowed
    fetched_at: float


class Fetcher:
    """An async context manager owning the connection pools, the limits and the robots cache."""

    def __init__(self, policy: HttpPolicy) -> None:
        self.policy = policy
        self._allow = parse_networks(policy.allow_networks)
        self._transport: _PerOriginTransport | None = None
        self._headers = {
            "Accept": "*/*",
            "Accept-Encoding": "gzip, deflate",
            "Connection": "keep-alive",
            "User-Agent": policy.user_agent,
        }
        self._timeout = httpx.Timeout(
            connect=policy.connect_timeout_s,
            read=policy.read_timeout_s,
            write=policy.read_timeout_s,
            pool=policy.total_timeout_s,
        ).as_dict()
        self._global: asyncio.Semaphore | None = None
        self._hosts: dict[str, _HostSlot] = {}
        self._robots: dict[str, _Robots] = {}
        self._robots_locks: dict[str, asyncio.Lock] = {}

    async def __aenter__(self) -> Self:
        self._transport = _PerOriginTransport(self.policy)
        self._global = asyncio.Semaphore(self.policy.global_concurrency)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._transport is not None:
            await self._transport.aclose()
            self._transport = None

    # -- public API ------------------------------------------------------------------
    async def get(
        self,
        url: str,
        *,
        headers: dict[str, str] | None = None,
        accept: Accept = "page",
        budget: list[float] | None = None,
        defer_at: float | None = None,
    ) -> HttpResult:
        """GET ``url`` under the policy; ``accept="feed"`` admits XML types and skips robots.

        Never raises for what the URL, the server or the body contain (see the module
        docstring). ``budget``: seconds of fetching left, shared with the caller (a robots.txt
        fetch spends its page's budget). ``defer_at``: a ``time.monotonic()`` instant; a page
        whose host's politeness delay would start it later raises ``PageDeferred``.
        """
        budget = budget if budget is not None else [self.policy.total_timeout_s]
        try:
            return await self._follow(url, headers or {}, accept, budget, defer_at)
        except PageDeferred:
            raise
        except Exception as exc:  # noqa: BLE001 - isolation: one URL's trouble stays its own result
            status = FetchStatus.BLOCKED if isinstance(exc, _MALFORMED) else FetchStatus.NETWORK
            log.warning("fetch.unexpected_error", url=url[:500], error=repr(exc)[:500], exc_info=exc)
            return HttpResult(url, url, status, error=f"{type(exc).__name__}: {exc}"[:500])

    async def _follow(
        self, url: str, headers: dict[str, str], accept: Accept, budget: list[float], defer_at: float | None
    ) -> HttpResult:
        current = url
        for _hop in range(self.policy.max_redirects + 1):
            try:
                current = ascii_url(current)
            except _MALFORMED as exc:
                return HttpResult(url, current, FetchStatus.BLOCKED, error=f"malformed URL: {exc}"[:500])
            result = await self._hop(url, current, headers, accept, budget, defer_at)
            location = result.headers.get("location")
            if result.http_status not in _REDIRECTS or not location:
                return result
            try:
                current = urljoin(current, location.strip())
            except ValueError as exc:  # "http://[": urllib refuses it, and it must not escape
                return HttpResult(
                    url,
                    current,
                    FetchStatus.HTTP_ERROR,
                    http_status=result.http_status,
                    error=f"malformed redirect Location {location[:200]!r}: {exc}",
                )
        return HttpResult(
            url,
            current,
            FetchStatus.HTTP_ERROR,
            error=f"more than {self.policy.max_redirects} redirects",
        )

    async def fetch_page(self, url: str, *, defer_at: float | None = None) -> FetchedPage:
        """Fetch an article page and decode it."""
        result = await self.get(url, accept="page", defer_at=defer_at)
        return FetchedPage(
            url=result.url,
            final_url=result.final_url,
            status=result.status,
            http_status=result.http_status,
            html=result.text,
            content_type=result.content_type,
            error=result.error,
            retry_after_s=result.retry_after_s,
        )

    async def fetch_pages(self, urls: Sequence[str]) -> list[FetchedPage]:
        """Fetch many pages concurrently (within the limits); results in input order."""
        return list(await asyncio.gather(*(self.fetch_page(url) for url in urls)))

    async def iter_pages(
        self, urls: Sequence[str], *, window: int | None = None, defer_after_s: float | None = None
    ) -> AsyncIterator[tuple[int, FetchedPage | None]]:
        """Yield ``(index, page)`` as pages complete, with at most ``window`` in flight.

        Memory stays flat however many URLs there are (``fetch_pages`` keeps them all).
        With ``defer_after_s``, a page whose host's Crawl-delay (or ``per_host_delay_s``)
        would hold it longer than that after this call started is not fetched: it comes back
        as ``(index, None)``, for the caller to keep for a later run. A host waiting for its
        turn holds neither a global slot nor the window for long, so the other hosts'
        pages go on at full speed.
        """
        window = window or self.policy.global_concurrency * 2
        defer_at = None if defer_after_s is None else time.monotonic() + defer_after_s
        pending: set[asyncio.Task[tuple[int, FetchedPage | None]]] = set()

        async def one(index: int, url: str) -> tuple[int, FetchedPage | None]:
            try:
                return index, await self.fetch_page(url, defer_at=defer_at)
            except PageDeferred:
                return index, None

        for index, url in enumerate(urls):
            if len(pending) >= window:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    yield task.result()
            pending.add(asyncio.create_task(one(index, url)))
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                yield task.result()

    # -- one hop -----------------------------------------------------------------------
    async def _hop(
        self,
        original: str,
        url: str,
        headers: dict[str, str],
        accept: Accept,
        budget: list[float],
        defer_at: float | None = None,
    ) -> HttpResult:
        def failed(status: FetchStatus, error: str, **extra: object) -> HttpResult:
            return HttpResult(original, url, status, error=error, **extra)  # type: ignore[arg-type]

        try:
            parts = urlsplit(url)
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            return failed(FetchStatus.BLOCKED, f"malformed URL: {exc}")
        host = parts.hostname
        if parts.scheme not in ("http", "https") or not host:
            return failed(FetchStatus.BLOCKED, f"not an http(s) URL: {url[:200]}")
        verdict = await check_host(host, port, self._allow)
        if not verdict.allowed:
            status = FetchStatus.NETWORK if verdict.unresolved else FetchStatus.BLOCKED
            log.info("fetch.refused", url=url, reason=verdict.reason)
            return failed(status, verdict.reason or "refused")
        if accept == "page" and self.policy.respect_robots:
            if not await self._robots_allow(url, parts.scheme, parts.netloc, budget):
                return failed(FetchStatus.ROBOTS, "disallowed by robots.txt")
            if budget[0] <= 0:
                return failed(FetchStatus.TIMEOUT, f"no complete answer in {self.policy.total_timeout_s}s")
        slot = self._host_slot(host)
        assert self._global is not None and self._transport is not None, "use `async with`"
        # The host's turn is awaited before taking a global slot: a site with a long
        # Crawl-delay must not hold the slots every other site's pages need.
        async with slot.semaphore:
            await self._wait_turn(slot, defer_at)
            async with self._global:
                started = time.monotonic()
                try:
                    async with asyncio.timeout(max(budget[0], 0.001)):
                        return await self._send(original, url, verdict.addresses[0], headers, accept)
                except TimeoutError:
                    return failed(FetchStatus.TIMEOUT, f"no complete answer in {self.policy.total_timeout_s}s")
                except httpx.TimeoutException as exc:
                    return failed(FetchStatus.TIMEOUT, f"{type(exc).__name__}: {exc}")
                except httpx.HTTPError as exc:
                    return failed(FetchStatus.NETWORK, f"{type(exc).__name__}: {exc}")
                finally:
                    budget[0] -= time.monotonic() - started

    async def _send(
        self,
        original: str,
        url: str,
        address: str,
        headers: dict[str, str],
        accept: Accept,
    ) -> HttpResult:
        assert self._transport is not None
        split = urlsplit(url)
        pinned = httpx.URL(url).copy_with(host=address)
        extensions = {"timeout": self._timeout}
        if split.scheme == "https":
            extensions["sni_hostname"] = split.hostname
        request_headers = {"Host": split.netloc.rsplit("@", 1)[-1], **self._headers, **headers}
        if accept == "feed":
            request_headers["Accept"] = headers.get(
                "Accept", "application/rss+xml, application/atom+xml, application/xml;q=0.9, */*;q=0.5"
            )
        request = httpx.Request("GET", pinned, headers=request_headers, extensions=extensions)
        try:
            response = await self._transport.handle_async_request(request)
        except _RETRIED_ONCE as exc:
            # Before any answer: a kept-alive connection the server had just closed, or a
            # connection reset under load. A GET is safe to send again, once, on a new one.
            log.debug("fetch.retry", url=url[:300], error=repr(exc)[:200])
            response = await self._transport.handle_async_request(request)
        try:
            return await self._read(original, url, response, accept)
        finally:
            await response.aclose()

    async def _read(self, original: str, url: str, response: httpx.Response, accept: Accept) -> HttpResult:
        headers = {name.lower(): value for name, value in response.headers.items()}
        result = HttpResult(original, url, FetchStatus.OK, http_status=response.status_code, headers=headers)
        code = response.status_code
        if code in _REDIRECTS or code == 304:
            return result
        if code >= 400:
            result.status = FetchStatus.HTTP_ERROR
            result.error = f"HTTP {code}"
            result.retry_after_s = parse_retry_after(headers.get("retry-after"))
            return result
        limit = _ROBOTS_MAX_BYTES if accept == "robots" else self.policy.max_body_bytes
        declared = headers.get("content-length", "")
        encoding = headers.get("content-encoding", "identity").strip().lower()
        if declared.isdigit() and encoding == "identity" and int(declared) > limit:
            result.status, result.error = FetchStatus.TOO_LARGE, f"Content-Length {declared} > {limit}"
            return result
        if encoding not in ("identity", "gzip", "x-gzip", "deflate"):
            result.status, result.error = FetchStatus.NETWORK, f"unsupported Content-Encoding {encoding}"
            return result
        inflater = _Inflater(encoding, limit)
        chunks: list[bytes] = []
        checked_type = False
        try:
            async for raw in response.aiter_raw(_CHUNK):
                chunks.extend(inflater.feed(raw))
                if not checked_type and sum(map(len, chunks)) >= 2048:
                    checked_type = True
                    if not _content_type_allowed(headers.get("content-type"), accept, b"".join(chunks)):
                        break
        except _TooLargeError as exc:
            result.status, result.error = FetchStatus.TOO_LARGE, str(exc)
            return result
        except _BadEncodingError as exc:
            result.status, result.error = FetchStatus.NETWORK, f"bad {encoding} stream: {exc}"
            return result
        body = b"".join(chunks)
        if not _content_type_allowed(headers.get("content-type"), accept, body[:2048]):
            result.status = FetchStatus.BAD_CONTENT_TYPE
            result.error = f"unexpected content type {headers.get('content-type')!r}"
            return result
        result.body = body
        if accept == "page":
            result.text, _ = decode_html(body, headers.get("content-type"))
        return result

    # -- politeness ----------------------------------------------------------------------
    def _host_slot(self, host: str) -> _HostSlot:
        slot = self._hosts.get(host)
        if slot is None:
            slot = _HostSlot(asyncio.Semaphore(self.policy.per_host_concurrency))
            self._hosts[host] = slot
        return slot

    async def _wait_turn(self, slot: _HostSlot, defer_at: float | None = None) -> None:
        delay = max(self.policy.per_host_delay_s, slot.crawl_delay_s)
        if delay <= 0:
            return
        async with slot.lock:
            if defer_at is not None and slot.next_start > defer_at:
                raise PageDeferred(f"the host's next turn is {slot.next_start - time.monotonic():.0f} s away")
            wait = slot.next_start - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            slot.next_start = time.monotonic() + delay

    async def _robots_allow(self, url: str, scheme: str, netloc: str, budget: list[float]) -> bool:
        origin = f"{scheme}://{netloc}"
        lock = self._robots_locks.setdefault(origin, asyncio.Lock())
        async with lock:
            cached = self._robots.get(origin)
            if cached is None or time.monotonic() - cached.fetched_at > _ROBOTS_TTL_S:
                cached = await self._load_robots(origin, budget)
                self._robots[origin] = cached
        if cached.rules is None:
            return True
        return bool(cached.rules.can_fetch(url, self.policy.user_agent))

    async def _load_robots(self, origin: str, budget: list[float]) -> _Robots:
        # Follows redirects, and spends the page's own budget: one total per fetch.
        result = await self.get(origin + "/robots.txt", accept="robots", budget=budget)
        rules: Protego | None = None
        # RFC 9309: 4xx means no rules. We also allow on 5xx and network errors rather than
        # stall a news site for an hour; the page fetch itself will surface the outage.
        if result.status == FetchStatus.OK and result.http_status == 200 and result.body:
            try:
                rules = Protego.parse(result.body.decode("utf-8", "replace"))
            except Exception:  # noqa: BLE001 - a hostile robots.txt must not break fetching
                rules = None
        if rules is not None:
            host = urlsplit(origin).hostname or ""
            delay = rules.crawl_delay(self.policy.user_agent) or 0.0
            self._host_slot(host).crawl_delay_s = min(float(delay), _MAX_CRAWL_DELAY_S)
        return _Robots(rules, time.monotonic())


def fetch_pages_sync(urls: Sequence[str], policy: HttpPolicy) -> list[FetchedPage]:
    """Fetch pages from synchronous code (Airflow tasks): ``asyncio.run`` around a Fetcher."""

    async def run() -> list[FetchedPage]:
        async with Fetcher(policy) as fetcher:
            return await fetcher.fetch_pages(urls)

    return asyncio.run(run())
