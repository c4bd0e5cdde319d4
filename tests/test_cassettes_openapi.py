"""Every cassette agrees with DigitalOcean's OpenAPI description: requests, statuses and bodies."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.cassette import API, CASSETTES, Cassette
from tests.openapi_check import validate_request, validate_response

NAMES = sorted(p.stem for p in CASSETTES.glob("*.json"))


def test_there_are_cassettes() -> None:
    assert len(NAMES) >= 15


@pytest.mark.parametrize("name", NAMES)
def test_cassette_matches_the_openapi_description(name: str) -> None:
    for interaction in Cassette(name).interactions:
        req, res = interaction["request"], interaction["response"]
        request = httpx.Request(
            req["method"], API + req["path"], params=req["query"],
            json=req["body"] if req["body"] is not None else None,
            headers={"Authorization": "Bearer placeholder"},
        )
        validate_request(request)
        if "error" in res or "raw" in res:
            continue  # transport failures and deliberately malformed bodies have nothing to validate
        content = json.dumps(res["body"]).encode() if res.get("body") is not None else b""
        validate_response(request, httpx.Response(res["status"], headers=res["headers"], content=content))


@pytest.mark.parametrize("name", NAMES)
def test_cassettes_hold_no_credentials(name: str) -> None:
    text = (CASSETTES / f"{name}.json").read_text()
    assert "authorization" not in text.lower()
    assert "dop_v1_" not in text
    for interaction in Cassette(name).interactions:
        _assert_passwords_scrubbed(interaction["response"].get("body"))


def _assert_passwords_scrubbed(node: object) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "password":
                assert value in ("", "scrubbed")
            elif key == "uri":
                assert ":scrubbed@" in value or "@" not in value
            else:
                _assert_passwords_scrubbed(value)
    elif isinstance(node, list):
        for item in node:
            _assert_passwords_scrubbed(item)
