"""A loopback HTTP server over ``fake.handle``: for subprocesses and any HTTP client of the routes it serves.

It binds loopback addresses only (the fake accepts any token and holds passwords). Threaded; every
request goes through the same lock-protected ``handle`` as the in-process transport.
"""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import httpx

if TYPE_CHECKING:
    from ._fake import FakeDigitalOcean

__all__ = ["FakeServer", "check_loopback", "serving"]

_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})


def check_loopback(host: str) -> None:
    """Raise ValueError unless ``host`` resolves to a loopback address."""
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror as exc:
        raise ValueError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = {str(info[4][0]) for info in infos}
    if not addresses or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addresses):
        raise ValueError(f"the fake API serves loopback addresses only (127.0.0.1, ::1); refusing {host!r}")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: FakeServer
    #: No Nagle: headers and body leave in two writes, and with Nagle on, the second waits for the client's
    #: delayed ACK (~40 ms) on every kept-alive request after the first, which would skew every benchmark.
    disable_nagle_algorithm = True

    def _read_body(self) -> bytes:
        if "chunked" in str(self.headers.get("transfer-encoding", "")).lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length else b""

    def _serve(self) -> None:
        body = self._read_body()
        host = self.headers.get("host") or f"127.0.0.1:{self.server.server_port}"
        headers = [(k, v) for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP]
        request = httpx.Request(self.command, f"http://{host}{self.path}", headers=headers, content=body)
        try:
            response = self.server.fake.handle(request)
        except httpx.TransportError:
            self.close_connection = True  # an injected timeout: drop the connection without an answer
            return
        content = response.content
        self.send_response(response.status_code)
        for key, value in response.headers.multi_items():
            if key.lower() not in _HOP_BY_HOP:
                self.send_header(key, value)
        self.send_header("content-length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)
        if self.server.after_request is not None and self.command != "GET":
            self.server.after_request()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - BaseHTTPRequestHandler's name
        """Silent: request lines could carry secrets in a query string."""


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(
        self, fake: FakeDigitalOcean, host: str, port: int, after_request: Callable[[], None] | None = None
    ) -> None:
        check_loopback(host)
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.fake = fake
        self.after_request = after_request
        super().__init__((host, port), _Handler)

    @property
    def url(self) -> str:
        host = str(self.server_address[0])
        return f"http://[{host}]:{self.server_port}" if ":" in host else f"http://{host}:{self.server_port}"


@contextmanager
def serving(
    fake: FakeDigitalOcean, host: str = "127.0.0.1", port: int = 0, after_request: Callable[[], None] | None = None
) -> Iterator[str]:
    """Serve in a background thread; stop and join on exit. Yields the base URL."""
    server = FakeServer(fake, host, port, after_request)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server.url
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
