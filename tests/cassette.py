"""Cassettes: recorded DigitalOcean interactions, replayed through respx in order and strictly.

Each interaction's request must match the next one recorded (method, path, parsed query, parsed JSON body:
pydo's byte layout is not part of the contract); any other request fails the test, and a test that leaves
interactions unplayed fails too. Record mode lives in ``tests/record_cassettes.py``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import respx

from tests.openapi_check import validate_request

CASSETTES = Path(__file__).resolve().parents[1] / "cassettes"
API = "https://api.digitalocean.com"


class Cassette:
    def __init__(self, name: str) -> None:
        self.name = name
        self.data = json.loads((CASSETTES / f"{name}.json").read_text())
        self.interactions: list[dict[str, Any]] = self.data["interactions"]
        self.played: list[httpx.Request] = []

    def play(self, request: httpx.Request) -> httpx.Response:
        index = len(self.played)
        assert index < len(self.interactions), f"{self.name}: unexpected extra request {request.method} {request.url}"
        expected = self.interactions[index]["request"]
        self.played.append(request)
        got = {
            "method": request.method,
            "path": request.url.path,
            "query": dict(parse_qsl(request.url.query.decode())),
            "body": json.loads(request.content) if request.content else None,
        }
        assert got == expected, f"{self.name}: request #{index} differs:\n got {got}\nwant {expected}"
        validate_request(request)  # what pydo really sent, headers included, against DigitalOcean's description
        response = self.interactions[index]["response"]
        if "error" in response:
            raise getattr(httpx, response["error"])("recorded transport failure", request=request)
        headers = response.get("headers", {})
        if "raw" in response:
            return httpx.Response(response["status"], headers=headers, content=response["raw"].encode())
        if response.get("body") is None:
            return httpx.Response(response["status"], headers=headers)
        return httpx.Response(response["status"], headers=headers, json=response["body"])

    @property
    def unplayed(self) -> int:
        return len(self.interactions) - len(self.played)

    def requests(self, method: str | None = None) -> list[httpx.Request]:
        return [r for r in self.played if method is None or r.method == method]


@contextmanager
def replay(name: str) -> Iterator[Cassette]:
    """Serve ``cassettes/<name>.json`` to every httpx client for the duration of the block."""
    cassette = Cassette(name)
    with respx.mock(assert_all_called=False) as router:
        router.route().mock(side_effect=cassette.play)
        yield cassette
    assert cassette.unplayed == 0, f"{name}: {cassette.unplayed} recorded interaction(s) were never requested"
