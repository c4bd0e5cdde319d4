"""pydo over httpx: a small azure-core transport that sends through one injected ``httpx.Client``.

Why our own adapter instead of pinning ``azure-core-experimental`` (1.0.0b4, a 2023 beta): that transport
passes JSON bodies as ``data=``, which httpx 0.28 deprecates with a warning on every POST/PUT (fatal under
``filterwarnings = error``); its streaming and async paths are broken. We need none of its features:
DigitalOcean's database and app operations are sync and never stream. Like azure-core's own
RequestsTransport, the response builds on azure-core's ``HttpResponseImpl`` (private), so pyproject pins
azure-core's minor version and ``tests/test_transport.py`` covers the adapter.

Timeouts: azure-core's RetryPolicy passes ``connection_timeout`` per request, overriding the client's own
timeout; we honour it (pydo-notes.md §4) so the gateway's ``timeout`` is the one that counts.
"""

from __future__ import annotations

from typing import Any

import httpx
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.pipeline.transport import HttpTransport
from azure.core.rest import HttpRequest
from azure.core.rest._http_response_impl import HttpResponseImpl

__all__ = ["HttpxTransport", "http_client"]


def http_client(api_url: str, *, timeout: float) -> httpx.Client:
    """The ``httpx.Client`` for ``api_url``. Loading the CA bundle (an SSL context with certifi's roots) costs
    tens of ms per client; a plain ``http://`` URL (only ever loopback: ``check_api_url`` refuses any other)
    never does TLS, so it gets a client without certificate loading. Every https URL is verified as usual."""
    if api_url.startswith("http://"):
        return httpx.Client(timeout=timeout, verify=False)  # no TLS on this connection: nothing to verify
    return httpx.Client(timeout=timeout)


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

    def __init__(self, client: httpx.Client, *, timeout: float) -> None:
        self.client = client
        self.timeout = timeout

    def __enter__(self) -> HttpxTransport:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def open(self) -> None:
        return None

    def close(self) -> None:
        return None  # the caller owns the httpx.Client

    def send(self, request: HttpRequest, **kwargs: Any) -> _HttpxResponse:
        timeout = kwargs.pop("connection_timeout", None) or self.timeout
        try:
            response = self.client.request(
                request.method,
                request.url,
                headers=list(request.headers.items()),
                content=request.content,
                timeout=timeout,
            )
        except (httpx.TimeoutException, httpx.ProtocolError) as exc:
            raise ServiceResponseError(str(exc), error=exc) from exc
        except httpx.RequestError as exc:
            raise ServiceRequestError(str(exc), error=exc) from exc
        result = _HttpxResponse(request, response)
        result.read()  # nothing streams: load the body now, as azure-core's RequestsTransport does
        return result
