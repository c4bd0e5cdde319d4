"""Validate httpx requests and responses against DigitalOcean's OpenAPI description (vendored in
do_pgpool/testing/openapi)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any
from urllib.parse import parse_qs

import httpx

from do_pgpool.testing.openapi import SPEC_PATH as SPEC


@lru_cache(maxsize=1)
def openapi() -> Any:
    from openapi_core import Config, OpenAPI

    # The description's servers list only https://api.digitalocean.com; accept any host (the fake's loopback).
    return OpenAPI.from_file_path(str(SPEC), config=Config(server_base_url="https://api.digitalocean.com"))


class _Request:
    def __init__(self, request: httpx.Request) -> None:
        from openapi_core.datatypes import RequestParameters
        from werkzeug.datastructures import Headers, ImmutableMultiDict

        self.method = request.method.lower()
        self.body: bytes | None = request.content or None
        self.content_type = request.headers.get("content-type", "application/json")
        self.host_url = "https://api.digitalocean.com"
        self.path = request.url.path
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qs(request.url.query.decode())),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict({}),
        )


class _Response:
    def __init__(self, response: httpx.Response) -> None:
        from werkzeug.datastructures import Headers

        self.status_code = response.status_code
        self.data = response.content
        self.content_type = response.headers.get("content-type", "application/json") if response.content else ""
        self.headers = Headers(dict(response.headers))


def validate_request(request: httpx.Request) -> None:
    openapi().validate_request(_Request(request))


def validate_response(request: httpx.Request, response: httpx.Response) -> None:
    openapi().validate_response(_Request(request), _Response(response))
