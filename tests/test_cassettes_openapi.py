"""Every cassette agrees with DigitalOcean's OpenAPI description: requests, statuses and bodies."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

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


# -- realistic shapes: what the real API serves, not only what the spec's examples say -------------------

HOST = re.compile(r"^(private-)?(replica-)?[a-z0-9-]+-do-user-\d+-0\.[a-z]\.db\.ondigitalocean\.com$")


def _connections(node: object, engine: str = "pg") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every connection object in an answer, with the engine of the cluster (pools: pg) it belongs to."""
    if isinstance(node, dict):
        engine = node.get("engine", engine) if "connection" in node else engine
        for key, value in node.items():
            if key.endswith("connection") and isinstance(value, dict):
                yield engine, value
            else:
                yield from _connections(value, engine)
    elif isinstance(node, list):
        for item in node:
            yield from _connections(item, engine)


def test_connections_look_like_the_real_apis() -> None:
    seen = 0
    for name in NAMES:
        for interaction in Cassette(name).interactions:
            for engine, conn in _connections(interaction["response"].get("body")):
                seen += 1
                scheme = {"pg": "postgresql", "mysql": "mysql"}[engine]
                assert conn["protocol"] == scheme and conn["uri"].startswith(f"{scheme}://"), (name, conn)
                assert conn["database"] and HOST.match(conn["host"]), (name, conn)
                assert f"@{conn['host']}:{conn['port']}/{conn['database']}?" in conn["uri"], (name, conn)
    assert seen > 20


def test_clusters_carry_the_fields_real_answers_carry() -> None:
    clusters = [c for name in NAMES for i in Cassette(name).interactions
                for c in ((i["response"].get("body") or {}).get("databases") or [(i["response"].get("body") or {})
                          .get("database")]) if c]  # fmt: skip
    assert len(clusters) >= 10
    for cluster in clusters:
        assert {"storage_size_mib", "tags", "semantic_version", "project_id"} <= set(cluster)
        assert cluster["semantic_version"].startswith(cluster["version"] + ".")


def test_every_answer_has_its_own_request_id() -> None:
    ids = []
    for name in NAMES:
        for interaction in Cassette(name).interactions:
            response = interaction["response"]
            rid = response.get("headers", {}).get("x-request-id")
            body = response.get("body")
            if isinstance(body, dict) and "request_id" in body:
                assert body["request_id"] == rid, name
            if rid:
                ids.append(rid)
    assert len(ids) > 30 and len(set(ids)) == len(ids)


def test_the_readme_says_how_they_were_made_and_how_to_refresh_them() -> None:
    readme = (CASSETTES / "README.md").read_text()
    assert "never recorded live" in readme and "tests/record_cassettes.py" in readme
    for name in NAMES:
        assert f"`{name}`" in readme, f"cassettes/README.md does not describe {name}"
