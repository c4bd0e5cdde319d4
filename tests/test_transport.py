"""Our azure-core -> httpx adapter: the seam every DigitalOcean request goes through."""

from __future__ import annotations

import httpx
import pytest
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.core.rest import HttpRequest

from do_pgpool.api._transport import HttpxTransport


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


def test_loopback_http_client_loads_no_ca_bundle_and_https_does(monkeypatch: pytest.MonkeyPatch) -> None:
    import ssl

    from do_pgpool.api._transport import http_client

    loads: list[object] = []
    original = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: object, **kwargs: object) -> None:
        loads.append(args or kwargs)
        original(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    with http_client("http://127.0.0.1:8080", timeout=1.0):
        assert loads == []
    with http_client("https://api.digitalocean.com", timeout=1.0):
        assert len(loads) == 1


def test_gateway_builds_two_pydo_operation_groups_not_the_whole_client(monkeypatch: pytest.MonkeyPatch) -> None:
    import pydo

    from do_pgpool.api._gateway import DigitalOcean
    from do_pgpool.testing import FakeDigitalOcean

    def no_client(*args: object, **kwargs: object) -> None:
        raise AssertionError("pydo.Client builds all 76 operation groups; the gateway needs two")

    monkeypatch.setattr(pydo, "Client", no_client)
    fake = FakeDigitalOcean()
    fake.add_cluster("app-db")
    with DigitalOcean("dop_v1_transporttesttoken", http=fake.http_client("dop_v1_transporttesttoken")) as gw:
        assert [c.name for c in gw.list_clusters()] == ["app-db"]
        assert sorted(vars(gw._pydo)) == ["apps", "databases"]
    assert fake.calls[0].method == "GET"
