"""A real, quiet, threaded HTTP/1.1 server on loopback for tests, the offline demo and benchmarks.

Nothing here mocks HTTP: clients talk to a real socket. Static routes answer conditional
GETs (ETag / Last-Modified) with 304; scripted handlers can drip bytes, stream huge or
compressed bodies, redirect or throttle.

``serve_directory`` serves files as they are on disk, except that a ``name.gz`` file also
answers for ``name``: the stored gzip bytes are sent with ``Content-Encoding: gzip`` (so the
client decompresses, as with a real compressing server), and the content type is guessed
from ``name``.

Usage::

    with LocalSite() as site:
        site.add("/feed.xml", rss_bytes, content_type="application/rss+xml")
        httpx.get(site.url("/feed.xml"))
"""

from __future__ import annotations

import email.utils
import hashlib
import http.server
import mimetypes
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import urlsplit

__all__ = ["LocalSite", "Request", "RequestLog", "Response"]


@dataclass(frozen=True, slots=True)
class Request:
    """What a scripted handler sees of one request."""

    method: str
    path: str  # path without the query string
    query: str
    headers: dict[str, str]  # header names lower-cased


@dataclass(slots=True)
class Response:
    """What a scripted handler returns.

    ``body`` may be bytes, str (UTF-8 encoded) or an iterable of byte chunks, which is
    streamed with chunked transfer encoding (use a generator for huge bodies or drips).
    """

    status: int = 200
    body: bytes | str | Iterable[bytes] = b""
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = "text/html; charset=utf-8"


@dataclass(frozen=True, slots=True)
class RequestLog:
    """One request as received, for assertions."""

    method: str
    path: str  # including the query string
    headers: dict[str, str]  # header names lower-cased
    at: float  # time.monotonic()
    peer: tuple[str, int] = ("", 0)  # the client's address and port: one per connection


Handler = Callable[[Request], Response]


def _static_handler(
    body: bytes,
    status: int,
    content_type: str | None,
    extra: dict[str, str],
    modified_at: float | None = None,
) -> Handler:
    etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
    last_modified = email.utils.formatdate(modified_at or time.time(), usegmt=True)

    def handle(request: Request) -> Response:
        headers = {"ETag": etag, "Last-Modified": last_modified, **extra}
        if status == 200 and _not_modified(request.headers, etag, last_modified):
            return Response(status=304, headers=headers, content_type=None)
        return Response(status=status, body=body, headers=headers, content_type=content_type)

    return handle


def _not_modified(headers: dict[str, str], etag: str, last_modified: str) -> bool:
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None:
        return etag in [tag.strip() for tag in if_none_match.split(",")] or if_none_match == "*"
    since = headers.get("if-modified-since")
    if since is None:
        return False
    try:
        return email.utils.parsedate_to_datetime(since) >= email.utils.parsedate_to_datetime(last_modified)
    except (TypeError, ValueError):
        return False


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    site: LocalSite

    def handle_error(self, request: object, client_address: object) -> None:
        """Quiet on clients that hang up (tests cut connections on purpose)."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _RequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: no access log on stderr."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch(head=True)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._dispatch()

    def _dispatch(self, head: bool = False) -> None:
        site = self.server.site
        headers = {name.lower(): value for name, value in self.headers.items()}
        site._log(RequestLog(self.command, self.path, headers, time.monotonic(), tuple(self.client_address[:2])))
        split = urlsplit(self.path)
        request = Request(self.command, split.path, split.query, headers)
        handler = site._find_handler(split.path)
        if handler is None:
            response = Response(status=404, body=b"not found", content_type="text/plain")
        else:
            try:
                response = handler(request)
            except Exception as exc:  # noqa: BLE001 - a broken test handler must not kill the server
                response = Response(status=500, body=repr(exc), content_type="text/plain")
        if site.latency_s > 0:
            time.sleep(site.latency_s)
        try:
            self._send(response, head)
        except (
            BrokenPipeError,
            ConnectionResetError,
            ConnectionAbortedError,
            TimeoutError,
        ):
            self.close_connection = True  # the client went away: fine

    def _send(self, response: Response, head: bool) -> None:
        self.send_response(response.status)
        header_names = {name.lower() for name in response.headers}
        if response.content_type and "content-type" not in header_names:
            self.send_header("Content-Type", response.content_type)
        for name, value in response.headers.items():
            self.send_header(name, value)
        body = response.body
        if isinstance(body, str):
            body = body.encode("utf-8")
        if isinstance(body, bytes):
            if "content-length" not in header_names:
                self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if not head and response.status not in (204, 304):
                self.wfile.write(body)
            return
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if head:
            return
        for chunk in body:
            if chunk:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                self.wfile.flush()
        self.wfile.write(b"0\r\n\r\n")


class LocalSite:
    """A threaded HTTP/1.1 server on loopback; a context manager. ``port=0`` picks a free port."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0, latency_s: float = 0.0) -> None:
        self.host = host
        self.port = port
        self.latency_s = latency_s
        self.requests: list[RequestLog] = []
        self._handlers: dict[str, Handler] = {}
        self._directories: list[tuple[str, Path]] = []
        self._lock = threading.Lock()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("LocalSite is not started")
        return f"http://{self.host}:{self.port}"

    def url(self, path: str) -> str:
        """The absolute URL of ``path`` on this site."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    def add(
        self,
        path: str,
        body: bytes | str,
        *,
        status: int = 200,
        content_type: str = "text/html; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        """A static route with ETag and Last-Modified that answers conditional GETs with 304."""
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.add_handler(path, _static_handler(data, status, content_type, dict(headers or {})))

    def add_handler(self, path: str, handler: Handler) -> None:
        """A scripted route: ``handler`` builds the response for each request to ``path``."""
        with self._lock:
            self._handlers[path] = handler

    def serve_directory(self, prefix: str, directory: Path) -> None:
        """Serve the files of ``directory`` under ``prefix`` (see the module docstring for .gz)."""
        prefix = "/" + prefix.strip("/") + "/"
        with self._lock:
            self._directories.append((prefix, Path(directory).resolve()))

    def start(self) -> LocalSite:
        if self._server is not None:
            return self
        server = _Server((self.host, self.port), _RequestHandler)
        server.site = self
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- used by the request handler -------------------------------------------------
    def _log(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests.append(entry)

    def _find_handler(self, path: str) -> Handler | None:
        with self._lock:
            handler = self._handlers.get(path)
            directories = list(self._directories)
        if handler is not None:
            return handler
        for prefix, directory in directories:
            if path.startswith(prefix):
                return _file_handler(directory, path[len(prefix) :])
        return None


def _file_handler(directory: Path, relative: str) -> Handler | None:
    candidate = (directory / relative).resolve()
    if directory not in candidate.parents:
        return None  # no path traversal out of the served directory
    gzipped = candidate.with_name(candidate.name + ".gz")
    extra: dict[str, str] = {}
    if candidate.is_file():
        path = candidate  # asked for by its own name, even "x.gz": sent as-is
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        if candidate.suffix == ".gz":
            content_type = "application/gzip"
    elif gzipped.is_file():
        path = gzipped
        content_type = mimetypes.guess_type(candidate.name)[0] or "application/octet-stream"
        extra["Content-Encoding"] = "gzip"
    else:
        return None
    if content_type.startswith("text/"):
        content_type += "; charset=utf-8"
    return _static_handler(path.read_bytes(), 200, content_type, extra, path.stat().st_mtime)


def iter_chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    """Split ``data`` into chunks, for handlers that want a streamed body."""
    for start in range(0, len(data), size):
        yield data[start : start + size]
