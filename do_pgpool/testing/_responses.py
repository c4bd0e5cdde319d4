"""``handle(fake, httpx.Request) -> httpx.Response``: authenticate, rate-limit, inject faults, route, parse,
call the backend, wrap the envelope. No rules live here: they are in the backends.

Every DigitalOcean answer carries ``ratelimit-*`` headers and ``x-request-id``; errors are DigitalOcean's
``{"id", "message", "request_id"}``. GitHub answers use GitHub's ``{"message", "documentation_url"}``.
Unknown routes answer as DigitalOcean does, 404 ``not_found``, and are recorded in ``fake.unmatched``: the
pytest fixture fails a test that hit one (strict by default), so a missing route is never mistaken for a
missing resource.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx

from ._errors import FakeAPIError, Reply
from ._routes import Route, match

if TYPE_CHECKING:
    from ._fake import FakeDigitalOcean, TokenOptions

__all__ = ["handle", "to_json"]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
GITHUB_DOCS = "https://docs.github.com/rest/actions/secrets"


def to_json(value: Any, view_credentials: bool) -> Any:
    """Backend results (model objects with ``to_api``, lists, dicts) as JSON-ready data."""
    to_api = getattr(value, "to_api", None)
    if callable(to_api):
        return to_api(view_credentials)
    if isinstance(value, Mapping):
        return {k: to_json(v, view_credentials) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v, view_credentials) for v in value]
    return value


def _service(request: httpx.Request) -> str:
    if request.url.host == "api.github.com" or request.url.path.startswith("/repos/"):
        return "github"
    return "digitalocean"


def _bearer(request: httpx.Request) -> str | None:
    header: str = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() in ("bearer", "token") and token.strip():
        return token.strip()
    return None


class _Answer:
    """Builds responses for one request: same request id and rate-limit headers on every outcome."""

    def __init__(self, fake: FakeDigitalOcean, request: httpx.Request, service: str) -> None:
        self.fake = fake
        self.request = request
        self.service = service
        self.request_id = fake.ids.request_id()
        self.headers: dict[str, str] = {}

    def _base_headers(self) -> dict[str, str]:
        if self.service == "github":
            return {"x-github-request-id": self.request_id.upper(), **self.headers}
        return {"x-request-id": self.request_id, **self.headers}

    def json(self, status: int, body: Any, *, malformed: bool = False) -> httpx.Response:
        content = json.dumps(body).encode()
        if malformed:
            content = content[: max(len(content) // 2, 1)]
        headers = {"content-type": "application/json; charset=utf-8", **self._base_headers()}
        return httpx.Response(status, headers=headers, content=content, request=self.request)

    def empty(self, status: int) -> httpx.Response:
        return httpx.Response(status, headers=self._base_headers(), request=self.request)

    def error(self, err: FakeAPIError) -> httpx.Response:
        if self.service == "github":
            return self.json(err.status, {"message": err.message, "documentation_url": GITHUB_DOCS})
        return self.json(err.status, {"id": err.error_id, "message": err.message, "request_id": self.request_id})


def handle(fake: FakeDigitalOcean, request: httpx.Request) -> httpx.Response:
    method, path = request.method.upper(), request.url.path
    service = _service(request)
    answer = _Answer(fake, request, service)
    try:
        response, matched = _handle(fake, request, answer, method, path)
    except httpx.TimeoutException:
        fake.record(method, path, 0, matched=True)
        raise
    fake.record(method, path, response.status_code, matched=matched)
    return response


def _handle(
    fake: FakeDigitalOcean, request: httpx.Request, answer: _Answer, method: str, path: str
) -> tuple[httpx.Response, bool]:
    token = _bearer(request)
    if answer.service == "digitalocean":
        answer.headers = fake.limiter.peek(token or "", fake.clock.now())
    if token is None or not fake.accepts(token):
        message = "Requires authentication" if answer.service == "github" else None
        return answer.error(FakeAPIError(401, message)), True
    options = fake.token_options(token)

    latency = fake.faults.take("latency", method, path)
    if latency is not None:
        fake.clock.advance(latency.seconds)
    if answer.service == "digitalocean":
        burst = fake.faults.take("burst", method, path)
        if burst is not None:
            answer.headers["retry-after"] = str(burst.retry_after)
            answer.headers["ratelimit-remaining"] = "0"  # as DigitalOcean's burst 429 sample: retry-after wins
            return answer.error(FakeAPIError(429)), True
        verdict = fake.limiter.hit(token, fake.clock.now())
        answer.headers = verdict.headers
        if not verdict.allowed:
            return answer.error(FakeAPIError(429)), True

    found = match(method, path)
    if found is None:
        return answer.error(FakeAPIError(404)), False
    route, params = found
    if method in WRITE_METHODS and not options.write:
        return answer.error(FakeAPIError(403)), True
    return _dispatch(fake, request, answer, route, params, options), True


def _parse_body(request: httpx.Request, route: Route) -> dict[str, Any] | None:
    content = request.content
    unparsable = "Problems parsing JSON" if route.service == "github" else "error parsing request body"
    if not content.strip():
        if route.body == "required":
            raise FakeAPIError(400, unparsable)
        return None
    try:
        body = json.loads(content)
    except (ValueError, UnicodeDecodeError) as exc:
        raise FakeAPIError(400, unparsable) from exc
    if not isinstance(body, dict):
        raise FakeAPIError(400, "error parsing request body: expected a JSON object")
    return body


def _dispatch(
    fake: FakeDigitalOcean,
    request: httpx.Request,
    answer: _Answer,
    route: Route,
    params: dict[str, str],
    options: TokenOptions,
) -> httpx.Response:
    method, path = route.method, request.url.path
    failure = fake.faults.take("fail", method, path)
    if failure is not None:
        default = "injected failure" if failure.status < 500 else None
        return answer.error(FakeAPIError(failure.status, failure.message or default))
    if fake.faults.take("timeout", method, path) is not None:
        raise httpx.ReadTimeout("injected timeout (nothing was applied)", request=request)

    kwargs: dict[str, Any] = dict(params)
    query = dict(request.url.params)
    if route.query == ("*",):
        kwargs["query"] = query
    else:
        kwargs.update({name: query[name] for name in route.query if name in query})
    try:
        if route.body is not None:
            kwargs["body"] = _parse_body(request, route)
        backend = getattr(fake, route.backend)
        result = getattr(backend, route.handler)(**kwargs)
    except FakeAPIError as err:
        return answer.error(err)

    failure = fake.faults.take("fail_after", method, path, route.handler)
    if failure is not None:
        return answer.error(
            FakeAPIError(failure.status, failure.message or "injected failure after the change was applied")
        )
    if fake.faults.take("timeout_after", method, path) is not None:
        raise httpx.ReadTimeout("injected timeout (the change was applied)", request=request)

    status, payload = route.status, result
    if isinstance(result, Reply):
        status, payload = result.status, result.body
    if status in (202, 204) or (payload is None and route.envelope is None):
        return answer.empty(status)
    body = to_json(payload, options.view_credentials)
    if route.envelope is not None:
        body = {route.envelope: body}
    malformed = fake.faults.take("malformed", method, path) is not None
    return answer.json(status, body, malformed=malformed)
