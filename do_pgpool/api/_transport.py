"""pydo over httpx: a small azure-core transport that sends through one injected ``httpx.Client``.

Why our own adapter instead of pinning ``azure-core-experimental`` (1.0.0b4, a 2023 beta): that transport
passes JSON bodies as ``data=``, which httpx 0.28 deprecates with a warning on every POST/PUT (fatal under
``filterwarnings = error``); its streaming and async paths are broken. We need none of its features:
DigitalOcean's database and app operations are sync and never stream. Like azure-core's own
RequestsTransport, the response builds on azure-core's ``HttpResponseImpl`` (private), so pyproject pins
azure-core's minor version and ``tests/test_transport.py`` covers the adapter.

Time: httpx's timeouts are per socket operation, so a server that trickles a byte every few seconds never trips
them. Each request here gets one overall deadline instead (the gateway's ``timeout``, cut to what is left of the
run's ``Deadline``): ``with_deadlines`` wraps httpcore's network backend so that every connect, read and write
is given at most the time left until that deadline (a ``ContextVar`` set around the request; sync httpx runs
it in this thread). A client without the wrapper (one a test injects) still gets the budget per read.
azure-core's RetryPolicy passes ``connection_timeout`` per request; it may only shorten the budget.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import httpcore
import httpx
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl

from .._duration import format_seconds

if TYPE_CHECKING:
    from collections.abc import Iterable

    from .._deadline import Deadline

__all__ = [
    "CONNECT_TIMEOUT",
    "HttpxTransport",
    "RequestDeadlineError",
    "http_client",
    "request_deadline",
    "with_deadlines",
]

#: a TCP (and TLS) connection that takes longer than this will not come: fail, and say what to check
CONNECT_TIMEOUT = 10.0

# monotonic time by which the request being sent on this thread must be complete (None: no overall limit)
_REQUEST_DEADLINE: ContextVar[float | None] = ContextVar("do_pgpool_request_deadline", default=None)


class RequestDeadlineError(ServiceResponseError):
    """The request's overall deadline passed before its answer was complete."""


def _left(timeout: float | None, expired: type[httpcore.TimeoutException] = httpcore.ReadTimeout) -> float | None:
    """``timeout`` cut to what is left of the current request's deadline; raises ``expired`` when nothing is."""
    deadline = _REQUEST_DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise expired("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _left(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> Any:
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, _left(timeout)))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    def __init__(self, inner: httpcore.NetworkBackend) -> None:
        self._inner = inner

    def connect_tcp(
        self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        stream = self._inner.connect_tcp(host, port, left, local_address, socket_options)
        return _DeadlineStream(stream)

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        left = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.connect_unix_socket(path, left, socket_options))

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


def http_client(api_url: str, *, timeout: float) -> httpx.Client:
    """The ``httpx.Client`` for ``api_url``, its requests bound by ``HttpxTransport``'s overall deadline.

    Loading the CA bundle (an SSL context with certifi's roots) costs tens of ms per client; a plain ``http://``
    URL (only ever loopback: ``check_api_url`` refuses any other) never does TLS, so it gets a client without
    certificate loading. Every https URL is verified as usual."""
    if api_url.startswith("http://"):
        return with_deadlines(httpx.Client(timeout=timeout, verify=False))  # no TLS here: nothing to verify
    return with_deadlines(httpx.Client(timeout=timeout))


def with_deadlines(client: httpx.Client) -> httpx.Client:
    """``client`` (proxies from the environment kept), its connects, reads and writes cut to the deadline of the
    request ``HttpxTransport`` is sending.

    httpx has no public hook for the network backend: this wraps each transport's httpcore pool's
    ``_network_backend`` (tests/test_deadlines.py fails if a new httpx/httpcore renames it).
    """
    for transport in (client._transport, *client._mounts.values()):
        pool = getattr(transport, "_pool", None)
        backend = getattr(pool, "_network_backend", None)
        if backend is not None and not isinstance(backend, _DeadlineBackend):
            pool._network_backend = _DeadlineBackend(backend)  # type: ignore[union-attr]
    return client


@contextmanager
def request_deadline(budget: float) -> Iterator[None]:
    """Inside the block, every connect, read and write of a ``with_deadlines`` client ends within ``budget``
    seconds from now (how a client other than pydo's, GitHub's, bounds its requests the same way)."""
    token = _REQUEST_DEADLINE.set(time.monotonic() + budget)
    try:
        yield
    finally:
        _REQUEST_DEADLINE.reset(token)


class _HttpxResponse(HttpResponseImpl):
    def __init__(self, request: HttpRequest, response: httpx.Response) -> None:
        super().__init__(
            request=request,
            internal_response=response,
            status_code=response.status_code,
            headers=response.headers,
            reason=response.reason_phrase,
            content_type=response.headers.get("content-type"),
            stream_download_generator=None,
        )

    def read(self) -> bytes:
        if self._content is None:
            self._content = self._internal_response.read()
        return bytes(self._content)

    def body(self) -> bytes:
        return bytes(self._internal_response.content)


class HttpxTransport(HttpTransport[HttpRequest, _HttpxResponse]):
    """Send azure-core requests with a caller-owned ``httpx.Client`` (never closed here)."""

    def __init__(self, client: httpx.Client, *, timeout: float, deadline: Deadline | None = None) -> None:
        self.client = client
        self.timeout = timeout
        self.deadline = deadline

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None  # the caller owns the httpx.Client

    def send(self, request: HttpRequest, **kwargs: Any) -> _HttpxResponse:
        budget = min(kwargs.pop("connection_timeout", None) or self.timeout, self.timeout)
        if self.deadline is not None:
            self.deadline.check(f"sending {request.method} {_path(request.url)}")
            budget = self.deadline.cap(budget)
        started = time.monotonic()
        token = _REQUEST_DEADLINE.set(started + budget)
        try:
            response = self.client.request(
                request.method,
                request.url,
                headers=list(request.headers.items()),
                content=request.content,
                timeout=httpx.Timeout(budget, connect=min(CONNECT_TIMEOUT, budget)),
            )
        except httpx.ConnectTimeout as exc:
            raise ServiceRequestError(f"no connection within {format_seconds(min(CONNECT_TIMEOUT, budget))}",
                                      error=exc) from exc  # fmt: skip
        except httpx.ConnectError as exc:
            raise ServiceRequestError(str(exc), error=exc) from exc
        except httpx.TimeoutException as exc:
            if time.monotonic() - started >= budget * 0.99:
                raise RequestDeadlineError(
                    f"no complete answer within {format_seconds(budget)} (the limit for one request)", error=exc
                ) from exc
            raise ServiceResponseError(str(exc), error=exc) from exc
        except httpx.ProtocolError as exc:
            raise ServiceResponseError(str(exc), error=exc) from exc
        except httpx.RequestError as exc:
            raise ServiceRequestError(str(exc), error=exc) from exc
        finally:
            _REQUEST_DEADLINE.reset(token)
        result = _HttpxResponse(request, response)
        result.read()  # nothing streams: load the body now, as azure-core's RequestsTransport does
        return result


def _path(url: str) -> str:
    return httpx.URL(url).path
