"""Our azure-core -> httpx adapter: the seam every DigitalOcean request goes through."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest

from do_pgpool._transport import HttpxTransport


def test_sends_the_body_as_content_and_honours_the_per_request_timeout() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"ok": True}, headers={"ratelimit-remaining": "9"})

    client = httpx.Client(transport=httpx.MockTransport(handler))
    transport = HttpxTransport(client, timeout=7.0)
    response = transport.send(HttpRequest("POST", "https://api.example/v2/x", json={"a": 1}), connection_timeout=3.0)
    assert response.status_code == 201 and response.json() == {"ok": True}
    assert response.headers["ratelimit-remaining"] == "9"
    assert seen[0].content == b'{"a": 1}'
    assert seen[0].extensions["timeout"]["read"] == 3.0
    transport.close()
    assert not client.is_closed, "the caller owns the httpx.Client"


@pytest.mark.parametrize(
    ("error", "expected"),
    [(httpx.ConnectError("refused"), ServiceRequestError), (httpx.ReadTimeout("slow"), ServiceResponseError),
     (httpx.RemoteProtocolError("eof"), ServiceResponseError)],
)
def test_httpx_failures_become_the_azure_errors_pydo_expects(error: Exception, expected: type[Exception]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    transport = HttpxTransport(httpx.Client(transport=httpx.MockTransport(handler)), timeout=1.0)
    with pytest.raises(expected):
        transport.send(HttpRequest("GET", "https://api.example/v2/x"))
