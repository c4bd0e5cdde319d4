"""The DigitalOcean API, typed. The only module that imports pydo or azure-core.

Every call goes through pydo over one ``httpx.Client`` (``_transport.py``). pydo's own retry policy is off:
GET/PUT/DELETE are retried here with tenacity (``_retry.py``); POST only after a 429. Every failure becomes one
of our exceptions: pydo *returns* DigitalOcean's error body for documented 404s instead of raising, so each
call asks pydo for the real status through its ``cls=`` hook.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx

from .._exceptions import (
    APIError,
    AuthenticationError,
    ConfigError,
    ConnectionFailedError,
    InvalidResponseError,
    NotFoundError,
    Param,
    Part,
    PreconditionFailedError,
    RateLimitedError,
    RequestTimeoutError,
    ServerError,
    TransportError,
    error_type,
)
from .._inputs import check_number, check_text
from .._models import Cluster, ClusterEvent, JsonDict, Pool, PoolSpec, looks_like_uuid
from .._redact import remember_passwords
from .._version import __version__
from ._client import HttpClientOwner
from ._headers import header, header_number
from ._retry import RetryConfig, call_with_retries
from ._tokens import check_token
from ._transport import http_client
from ._urls import DEFAULT_API_URL, check_api_url

if TYPE_CHECKING:
    from .._deadline import Deadline

__all__ = ["DEFAULT_API_URL", "DigitalOcean", "RequestLimiter", "check_api_url"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Scope each kind of call needs, for 403 messages (digitalocean-api.md §1-2).
_SCOPES = {"GET": "read", "POST": "create", "PUT": "update", "PATCH": "update", "DELETE": "delete"}


class RequestLimiter(Protocol):
    """Client-side pacing shared by many gateways (fleet mode): called around every HTTP request."""

    def acquire(self) -> None: ...

    def observe(self, status: int, headers: Mapping[str, str]) -> None: ...


class DigitalOcean(HttpClientOwner):
    """Typed access to the DigitalOcean endpoints do-pgpool uses.

    ``http`` may be injected (tests pass ``httpx.Client(transport=fake.http_transport())``); otherwise the
    gateway owns one and ``close()`` closes it. The token never appears in repr, logs or errors.

    ``timeout`` is each request's overall deadline (connect, send and the whole answer; not per read).
    ``deadline`` is the run's (``--timeout``): no request, retry or rate-limit wait goes past it.
    """

    # The same first keywords as ``GitHub``'s on purpose: both clients are configured alike.
    def __init__(
        self,
        token: str,
        *,
        api_url: str = DEFAULT_API_URL,
        http: httpx.Client | None = None,
        timeout: float = 30.0,
        retry: RetryConfig | None = None,
        limiter: RequestLimiter | None = None,
        deadline: Deadline | None = None,
    ) -> None:
        from .._duration import check_seconds

        timeout = check_seconds(timeout, what="the request timeout", positive=True)
        if not token or (isinstance(token, str) and not token.strip()):
            raise ConfigError([
                "no DigitalOcean API token: pass ", Param("token"), " or set DIGITALOCEAN_TOKEN "
                "(a token with database:read/create/update and database:view_credentials scopes)",
            ])
        hint: list[Part] = ["Check DIGITALOCEAN_TOKEN or ", Param("token"), "."]
        token = check_token(token, what="DigitalOcean API token", hint=hint)
        self.api_url = check_api_url(api_url)
        timeout = check_number(timeout, Param("timeout"), minimum=0.001)
        self._adopt(http, lambda: http_client(self.api_url, timeout=timeout))
        self._retry = retry or RetryConfig()
        self._deadline = deadline
        self._transport = _CountingTransport(self._http, timeout=timeout, limiter=limiter, deadline=deadline)
        self._pydo = _Operations(token, self.api_url, self._transport, timeout)

    def __repr__(self) -> str:
        return f"DigitalOcean(api_url={self.api_url!r})"

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far (retries included)."""
        return self._transport.count

    # -- database clusters ---------------------------------------------------------------------------

    def list_clusters(self, *, tag_name: str | None = None) -> list[Cluster]:
        kwargs: dict[str, Any] = {"params": {"per_page": 200}}
        if tag_name:
            kwargs["tag_name"] = tag_name
        path = "/v2/databases"
        # Filtering by tag also needs the tag:read scope (DigitalOcean's custom-scope rules).
        scope = "database:read and tag:read" if tag_name else None
        body = self._read("GET", path, self._pydo.databases.list_clusters, scope=scope, **kwargs)
        return [_parse(Cluster.from_api, d, "GET", path) for d in _items(body, "databases", "GET", path)]

    def get_cluster(self, cluster_id: str) -> Cluster:
        path = f"/v2/databases/{cluster_id}"
        body = self._read("GET", path, self._pydo.databases.get_cluster, cluster_id)
        return _parse(Cluster.from_api, _envelope(body, "database", "GET", path), "GET", path)

    def find_cluster(self, name_or_id: str | None) -> Cluster:
        """One PostgreSQL cluster by uuid or name, or the account's only one. One request either way."""
        check_text(name_or_id, Param("cluster"), optional=True)
        if name_or_id and looks_like_uuid(name_or_id):
            return self.get_cluster(name_or_id)
        clusters = self.list_clusters()
        if name_or_id:
            matches = [c for c in clusters if c.name == name_or_id]
            if not matches:
                names = ", ".join(sorted(c.name for c in clusters)) or "none"
                raise NotFoundError(
                    f"no database cluster named {name_or_id!r} for this token (clusters: {names})",
                    status=404,
                    error_id="not_found",
                )
            return matches[0]
        postgres = [c for c in clusters if c.is_postgres]
        if len(postgres) == 1:
            return postgres[0]
        if not postgres:
            raise ConfigError([
                "this token sees no PostgreSQL cluster; pass ", Param("cluster", "NAME_OR_UUID"),
                " (or DO_PGPOOL_CLUSTER)",
            ])
        names = ", ".join(sorted(f"{c.name} ({c.id})" for c in postgres))
        raise ConfigError([
            f"{len(postgres)} PostgreSQL clusters; choose one with ", Param("cluster", "NAME_OR_UUID"), f": {names}",
        ])

    def list_options(self) -> JsonDict:
        return self._read("GET", "/v2/databases/options", self._pydo.databases.list_options)

    def get_ca(self, cluster_id: str) -> str:
        """The CA (PEM) that issued the cluster's certificate: ``GET /v2/databases/{uuid}/ca``."""
        from .._tls import ca_pem_from_api

        path = f"/v2/databases/{cluster_id}/ca"
        return ca_pem_from_api(self._read("GET", path, self._pydo.databases.get_ca, cluster_id))

    def list_users(self, cluster_id: str) -> list[JsonDict]:
        path = f"/v2/databases/{cluster_id}/users"
        return _items(self._read("GET", path, self._pydo.databases.list_users, cluster_id), "users", "GET", path)

    def get_user(self, cluster_id: str, name: str) -> JsonDict:
        """One database user: ``name``, ``role`` and ``password`` (empty without database:view_credentials)."""
        path = f"/v2/databases/{cluster_id}/users/{_segment(name)}"
        body = self._read("GET", path, self._pydo.databases.get_user, cluster_id, name)
        return _envelope(body, "user", "GET", path)

    def update_cluster_size(
        self, cluster_id: str, *, size: str, num_nodes: int, storage_size_mib: int | None = None
    ) -> None:
        body: JsonDict = {"size": size, "num_nodes": num_nodes}
        if storage_size_mib is not None:
            body["storage_size_mib"] = storage_size_mib
        path = f"/v2/databases/{cluster_id}/resize"
        self._write("PUT", path, self._pydo.databases.update_cluster_size, cluster_id, body, retry=True)

    def install_update(self, cluster_id: str) -> None:
        path = f"/v2/databases/{cluster_id}/install_update"
        self._write("PUT", path, self._pydo.databases.install_update, cluster_id, retry=True)

    def get_config(self, cluster_id: str) -> JsonDict:
        """The cluster's advanced configuration (``GET .../config``: the ``config`` object, possibly sparse)."""
        path = f"/v2/databases/{cluster_id}/config"
        body = self._read("GET", path, self._pydo.databases.get_config, cluster_id)
        return _envelope(body, "config", "GET", path)

    def update_config(self, cluster_id: str, config: JsonDict) -> None:
        """``PATCH .../config`` with ``{"config": config}``: only the keys sent change. Setting a value is safe
        to send again, so it is retried."""
        path = f"/v2/databases/{cluster_id}/config"
        self._write("PATCH", path, self._pydo.databases.patch_config, cluster_id, {"config": config}, retry=True)

    def list_events(self, cluster_id: str) -> list[ClusterEvent]:
        """The cluster's events log (``databases_list_events_logs``), every page.

        The spec declares no pagination for it; DigitalOcean's general rule is 20 per page with
        ``links.pages.next``, so this asks for 200 per page and follows ``next`` when an answer has one.
        """
        path = f"/v2/databases/{cluster_id}/events"
        fn = self._pydo.databases.list_events_logs
        events: list[ClusterEvent] = []
        for page in range(1, 11):  # 10 x 200 events: far beyond what a cluster's log holds
            body = self._read("GET", path, fn, cluster_id, params={"page": page, "per_page": 200})
            events.extend(_parse(ClusterEvent.from_api, e, "GET", path) for e in _items(body, "events", "GET", path))
            if not ((body.get("links") or {}).get("pages") or {}).get("next"):
                break
        return events

    # -- firewall (trusted sources) ------------------------------------------------------------------

    def list_firewall_rules(self, cluster_id: str) -> list[JsonDict]:
        """The cluster's trusted sources, as DigitalOcean returns them (empty: open to any address)."""
        path = f"/v2/databases/{cluster_id}/firewall"
        body = self._read("GET", path, self._pydo.databases.list_firewall_rules, cluster_id)
        return [dict(rule) for rule in _items(body, "rules", "GET", path)]

    def update_firewall_rules(self, cluster_id: str, rules: list[JsonDict]) -> None:
        """PUT (204) replaces the WHOLE list: callers send every rule they mean to keep."""
        path = f"/v2/databases/{cluster_id}/firewall"
        fn = self._pydo.databases.update_firewall_rules
        self._write("PUT", path, fn, cluster_id, {"rules": rules}, retry=True)

    # -- connection pools ----------------------------------------------------------------------------

    def list_connection_pools(self, cluster_id: str) -> list[Pool]:
        path = f"/v2/databases/{cluster_id}/pools"
        body = self._read("GET", path, self._pydo.databases.list_connection_pools, cluster_id)
        return [_parse(Pool.from_api, p, "GET", path) for p in _items(body, "pools", "GET", path)]

    def get_connection_pool(self, cluster_id: str, name: str) -> Pool:
        path = f"/v2/databases/{cluster_id}/pools/{name}"
        body = self._read("GET", path, self._pydo.databases.get_connection_pool, cluster_id, name)
        return _parse(Pool.from_api, _envelope(body, "pool", "GET", path), "GET", path)

    def add_connection_pool(self, cluster_id: str, spec: PoolSpec) -> Pool:
        """POST, retried only after a 429: DigitalOcean may apply a create and still answer 5xx (see ``_ensure``)."""
        path = f"/v2/databases/{cluster_id}/pools"
        body = {"name": spec.name, **spec.body()}
        out = self._write("POST", path, self._pydo.databases.add_connection_pool, cluster_id, body, retry=False)
        return _parse(Pool.from_api, _envelope(out, "pool", "POST", path), "POST", path)

    def update_connection_pool(self, cluster_id: str, spec: PoolSpec) -> None:
        """Full-body PUT (204): mode, size, db and user always sent, so nothing is dropped by omission."""
        path = f"/v2/databases/{cluster_id}/pools/{spec.name}"
        fn = self._pydo.databases.update_connection_pool
        self._write("PUT", path, fn, cluster_id, spec.name, spec.body(), retry=True)

    def delete_connection_pool(self, cluster_id: str, name: str) -> None:
        """DELETE; a 404 means it is already gone, which is the state asked for."""
        path = f"/v2/databases/{cluster_id}/pools/{name}"
        try:
            self._write("DELETE", path, self._pydo.databases.delete_connection_pool, cluster_id, name, retry=True)
        except NotFoundError:
            logger.info("pool %s already deleted", name)

    # -- App Platform --------------------------------------------------------------------------------

    def list_apps(self) -> list[JsonDict]:
        apps: list[JsonDict] = []
        for page in range(1, 51):  # 50 pages x 200 apps: far beyond any account's app limit
            body = self._read("GET", "/v2/apps", self._pydo.apps.list, page=page, per_page=200)
            apps.extend(_items(body, "apps", "GET", "/v2/apps"))
            if not ((body.get("links") or {}).get("pages") or {}).get("next"):
                break
        return apps

    def get_app(self, app_id: str) -> JsonDict:
        path = f"/v2/apps/{app_id}"
        return _envelope(self._read("GET", path, self._pydo.apps.get, app_id), "app", "GET", path)

    def update_app(self, app_id: str, spec: JsonDict) -> JsonDict:
        """PUT the whole spec (the only way to change an env var). Starts a deployment.

        Retried only after a 429: a PUT answered 5xx (or cut off) may have been applied, and sending it again
        would start a second deployment; the App Platform target reads the app back before deciding.
        """
        path = f"/v2/apps/{app_id}"
        out = self._write("PUT", path, self._pydo.apps.update, app_id, {"spec": spec}, retry=False)
        return dict(_envelope(out, "app", "PUT", path))

    def get_deployment(self, app_id: str, deployment_id: str) -> JsonDict:
        path = f"/v2/apps/{app_id}/deployments/{deployment_id}"
        body = self._read("GET", path, self._pydo.apps.get_deployment, app_id, deployment_id)
        return _envelope(body, "deployment", "GET", path)

    def restart_app(self, app_id: str, components: list[str] | None = None) -> JsonDict:
        """POST .../restart: a rolling restart, which closes every connection the app holds."""
        path = f"/v2/apps/{app_id}/restart"
        body: JsonDict = {"components": components} if components else {}
        out = self._write("POST", path, self._pydo.apps.restart, app_id, body, retry=False, scope="app:update")
        return dict(_envelope(out, "deployment", "POST", path))

    # -- plumbing ------------------------------------------------------------------------------------

    def _read(
        self, method: str, path: str, fn: Callable[..., Any], *args: Any, scope: str | None = None, **kwargs: Any
    ) -> JsonDict:
        body = self._write(method, path, fn, *args, retry=True, scope=scope, **kwargs)
        if not isinstance(body, dict):
            kind = type(body).__name__
            raise InvalidResponseError(f"{method} {path}: DigitalOcean answered {kind}, not a JSON object")
        return body

    def _write(
        self,
        method: str,
        path: str,
        fn: Callable[..., Any],
        *args: Any,
        retry: bool,
        scope: str | None = None,
        **kwargs: Any,
    ) -> Any:
        """``scope``: the token scope a 403 names, when it is not ``<database|app>:<verb of method>``."""

        def once() -> Any:
            with _map_errors(method, path, scope, self._transport, api_url=self.api_url):
                status, body = fn(*args, cls=_with_status, **kwargs)
            remember_passwords(body)  # masked in every message from now on, wherever an error quotes one
            if status == 404:  # pydo returns documented 404s instead of raising
                raise _api_error(404, body if isinstance(body, dict) else {}, {}, method, path)
            return body

        return call_with_retries(once, self._retry, only_rate_limits=not retry, deadline=self._deadline)


class _Operations:
    """The two pydo operation groups do-pgpool calls, built on one azure-core pipeline.

    ``pydo.Client`` builds all of its 76 groups and the full default policy list on every construction; these
    two are the same generated classes (``pydo.operations``), given the pipeline client, serializer and
    deserializer they expect (pydo-notes.md §1-2). pydo's version is pinned in pyproject.toml.
    """

    def __init__(self, token: str, api_url: str, transport: Any, timeout: float) -> None:
        from azure.core import PipelineClient
        from azure.core.pipeline import policies
        from pydo._serialization import Deserializer, Serializer
        from pydo.operations import AppsOperations, DatabasesOperations

        class _BearerAuth(policies.SansIOHTTPPolicy[Any, Any]):
            # pydo's BearerTokenCredentialPolicy refuses http:// (a loopback fake); check_api_url
            # already refused plain http to anything but loopback.
            def on_request(self, request: Any) -> None:
                request.http_request.headers["Authorization"] = f"Bearer {token}"

        # pydo's order, without request ids (stable cassettes), proxies (httpx reads the environment itself),
        # hooks, tracing and azure's own HTTP logging (off in do-pgpool).
        pipeline = [
            policies.HeadersPolicy(),
            policies.UserAgentPolicy(base_user_agent=f"do-pgpool/{__version__}", user_agent_use_env=False),
            policies.ContentDecodePolicy(),
            policies.RedirectPolicy(),
            policies.RetryPolicy(retry_total=0, timeout=timeout),  # we retry with tenacity
            _BearerAuth(),
            policies.SensitiveHeaderCleanupPolicy(),
        ]
        client: Any = PipelineClient(base_url=api_url, policies=pipeline, transport=transport)
        serialize, deserialize = Serializer(), Deserializer()
        serialize.client_side_validation = False
        groups: Any = (DatabasesOperations, AppsOperations)  # generated without annotations
        self.databases = groups[0](client, None, serialize, deserialize)
        self.apps = groups[1](client, None, serialize, deserialize)


class _CountingTransport:
    """Our httpx transport plus a request counter and an optional shared limiter."""

    def __init__(
        self, http: httpx.Client, *, timeout: float, limiter: RequestLimiter | None, deadline: Deadline | None
    ) -> None:
        from ._transport import HttpxTransport

        self._inner = HttpxTransport(http, timeout=timeout, deadline=deadline)
        self._limiter = limiter
        self.count = 0
        #: the last answer's status and headers: what a body pydo could not parse was answered with
        self.last_status = 0
        self.last_headers: Mapping[str, str] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def __enter__(self) -> _CountingTransport:
        return self

    def __exit__(self, *args: object) -> None:
        return None

    def send(self, request: Any, **kwargs: Any) -> Any:
        if self._limiter is not None:
            self._limiter.acquire()
        self.count += 1
        try:
            response = self._inner.send(request, **kwargs)
        except Exception:
            if self._limiter is not None:
                self._limiter.observe(0, {})  # no answer: the request still counts from when it left
            raise
        self.last_status, self.last_headers = response.status_code, response.headers
        if self._limiter is not None:
            self._limiter.observe(response.status_code, response.headers)
        return response


def _segment(text: str) -> str:
    """For messages only: pydo quotes path parameters itself."""
    from urllib.parse import quote

    return quote(text, safe="")


def _with_status(pipeline_response: Any, body: Any, headers: Any) -> tuple[int, Any]:
    return int(pipeline_response.http_response.status_code), body


def _items(body: JsonDict, key: str, method: str, path: str) -> list[JsonDict]:
    """The list of objects under ``key`` (absent or null: none), or InvalidResponseError."""
    items = body.get(key) or []
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise InvalidResponseError(f"{method} {path}: DigitalOcean's answer has no list of {key!r} objects")
    return items


def _parse(factory: Callable[[JsonDict], T], data: JsonDict, method: str, path: str) -> T:
    """A model from one API object; a missing or mistyped field is an InvalidResponseError, not a KeyError."""
    try:
        return factory(data)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidResponseError(
            f"{method} {path}: DigitalOcean's answer has an object do-pgpool cannot read "
            f"({type(exc).__name__}: {exc})"
        ) from exc


def _envelope(body: Any, key: str, method: str, path: str) -> JsonDict:
    if not isinstance(body, dict) or not isinstance(body.get(key), dict):
        raise InvalidResponseError(f"{method} {path}: DigitalOcean's answer has no {key!r} object")
    return dict(body[key])


@contextmanager
def _map_errors(
    method: str,
    path: str,
    scope: str | None = None,
    transport: _CountingTransport | None = None,
    api_url: str = DEFAULT_API_URL,
) -> Iterator[None]:
    """azure/pydo exceptions -> our tree, most specific first. Messages never carry bodies verbatim."""
    from azure.core.exceptions import AzureError, DecodeError, HttpResponseError

    from ._transport import RequestDeadlineError

    try:
        yield
    except DecodeError as exc:  # subclasses HttpResponseError with the 2xx status: check it first
        raise _not_json(method, path, transport) from exc
    except HttpResponseError as exc:
        response: Any = exc.response
        status = int(exc.status_code or 0)
        body: JsonDict = {}
        headers: Mapping[str, str] = {}
        if response is not None:
            headers = response.headers
            try:
                parsed = response.json()
                body = parsed if isinstance(parsed, dict) else {}
            except ValueError:
                body = {}
        raise _api_error(status, body, headers, method, path, scope) from exc
    except RequestDeadlineError as exc:
        raise RequestTimeoutError(f"{method} {path}: {exc.message}; {api_url} accepted the request but did "
                                  "not answer in time") from exc  # fmt: skip
    except AzureError as exc:  # ServiceRequestError (connect), ServiceResponseError (read timeout, protocol)
        cause = exc.inner_exception or exc
        if isinstance(cause, (httpx.ConnectError, httpx.ConnectTimeout)):
            raise ConnectionFailedError(_connect_failure(method, path, api_url, cause)) from exc
        raise TransportError(f"{method} {path}: no answer from DigitalOcean ({type(cause).__name__}: {cause})") from exc
    except ValueError as exc:  # a body pydo tried to parse (2xx, or a documented 404) is not JSON
        raise _not_json(method, path, transport) from exc


def _not_json(method: str, path: str, transport: _CountingTransport | None) -> APIError | InvalidResponseError:
    """A body that is not JSON. A 404 stays "not found": DigitalOcean answers unknown routes (and sometimes
    gone objects) with plain text ``404 page not found``, and callers such as pool delete treat 404 as done."""
    if transport is not None and transport.last_status == 404:
        return _api_error(404, {}, transport.last_headers, method, path)
    return InvalidResponseError(f"{method} {path}: DigitalOcean's answer is not valid JSON")


_DNS_FAILURES = ("name or service", "name resolution", "nodename", "no address associated", "getaddrinfo")


def _os_errors(exc: BaseException) -> Iterator[BaseException]:
    """The exceptions behind ``exc`` (httpx -> httpcore -> the socket's OSError), ``exc`` first."""
    seen: BaseException | None = exc
    for _ in range(8):  # bounded: a cause chain is a few links
        if seen is None:
            return
        yield seen
        seen = seen.__cause__ or seen.__context__


def _connect_failure(method: str, path: str, api_url: str, cause: BaseException) -> list[Part]:
    chain = list(_os_errors(cause))
    # The socket's error type says it; an error raised without one (a test double, a proxy) only has its text.
    text = str(cause)
    if isinstance(cause, httpx.ConnectTimeout):
        why, check = "no TCP connection", "that the host is up and no firewall drops the traffic"
    elif any(isinstance(e, socket.gaierror) for e in chain) or any(s in text.lower() for s in _DNS_FAILURES):
        why, check = "the host name does not resolve", "the host name for typos, and DNS"
    elif any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text.lower():
        why, check = "connection refused", "the port, and that the server is running"
    else:
        why, check = text or type(cause).__name__, "the host and port"
    return [
        f"cannot connect to {api_url} ({method} {path}): {why}. Check ", Param("api_url"),
        f" (DIGITALOCEAN_API_URL; the default is {DEFAULT_API_URL}), {check}, and any HTTPS_PROXY setting.",
    ]


def _api_error(
    status: int,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    method: str,
    path: str,
    scope: str | None = None,
) -> APIError:
    error_id = str(body.get("id") or "") or None
    api_message = str(body.get("message") or "") or None
    request_id = str(body.get("request_id") or "") or header(headers, "x-request-id")
    what = f"{method} {path}: {status} {api_message or 'error'}"
    if request_id:
        what += f" (request {request_id})"
    common: dict[str, Any] = {
        "status": status,
        "error_id": error_id,
        "api_message": api_message,
        "request_id": request_id,
        "method": method,
        "path": path,
    }
    kind = error_type(status)
    if kind is RateLimitedError:
        retry_after = header_number(headers, "retry-after")
        reset_at = header_number(headers, "ratelimit-reset")
        hint = f"retry after {retry_after:.0f}s" if retry_after is not None else "hourly quota exhausted"
        return RateLimitedError(
            f"{what}. DigitalOcean's rate limit ({hint}).", retry_after=retry_after, reset_at=reset_at, **common
        )
    if kind is ServerError:
        retry_after = header_number(headers, "retry-after")
        applied = "" if method in ("GET", "HEAD") else "; the request may or may not have been applied"
        return ServerError(f"{what}. DigitalOcean failed{applied}.", retry_after=retry_after, **common)
    if status == 403:
        app_or_db = "app" if path.startswith("/v2/apps") else "database"
        scope = scope or f"{app_or_db}:{_SCOPES.get(method, 'read')}"
        plural = " scopes" if " and " in scope else " scope"
        return AuthenticationError(f"{what}. The token lacks the {scope}{plural} for this call.", **common)
    return kind(what + _ADVICE.get(kind, ""), **common)


#: what to do, by error type (403, 429 and 5xx are worded above: they need the call's scope or headers)
_ADVICE: dict[type[APIError], str] = {
    AuthenticationError: ". The token was rejected: check DIGITALOCEAN_TOKEN (expired or revoked?).",
    NotFoundError: ". It does not exist, or this token cannot see it.",
    PreconditionFailedError: ". The cluster is busy (maintenance?); try again later.",
}
