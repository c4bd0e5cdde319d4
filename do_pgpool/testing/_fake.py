"""``FakeDigitalOcean``: one object holding the state of a fake DigitalOcean (and GitHub) account.

Two faces over the same state: ``fake.http_transport()`` for in-process httpx clients, and
``with fake.serve() as url:`` for a loopback HTTP server (subprocesses, ``do-pgpool fake-api``). Seeding helpers
make a test read like a story; ``fake.calls`` records every request. No global registry: every fake is
independent, and ``reset()`` re-runs ``__init__`` with the same arguments.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from . import _responses
from ._assumptions import Assumptions
from ._backend import AppsBackend, DatabasesBackend, FakeApp, FakeCluster, FakePool, FakeUser, GitHubBackend
from ._clock import FakeClock
from ._faults import Faults
from ._ids import Ids, LifecycleOptions
from ._ratelimit import RateLimiter

__all__ = ["Call", "FakeDigitalOcean", "TokenOptions"]

DO_API_URL = "https://api.digitalocean.com"


class Call(NamedTuple):
    """One request the fake answered; ``status`` 0 means no answer (an injected timeout)."""

    method: str
    path: str
    status: int


@dataclass(frozen=True)
class TokenOptions:
    #: False: like a token without ``database:view_credentials``: empty passwords, URIs without password
    view_credentials: bool = True
    #: False: a read-only token: writes answer 403
    write: bool = True


class FakeDigitalOcean:
    """A stateful, in-memory DigitalOcean API (databases, apps) plus GitHub Actions secrets."""

    def __init__(
        self,
        *,
        rate_limit_per_minute: int = 250,
        rate_limit_per_hour: int = 5000,
        rate_limit_window: float = 3600.0,
        burst_window: float = 60.0,
        lifecycle: LifecycleOptions | None = None,
        clock: FakeClock | None = None,
        strict: bool = True,
        assumptions: Assumptions | None = None,
    ) -> None:
        self._init_args: dict[str, Any] = {
            "assumptions": assumptions,
            "rate_limit_per_minute": rate_limit_per_minute,
            "rate_limit_per_hour": rate_limit_per_hour,
            "rate_limit_window": rate_limit_window,
            "burst_window": burst_window,
            "lifecycle": lifecycle,
            "clock": clock,
            "strict": strict,
        }
        self._lock = threading.RLock()
        self.strict = strict
        self.clock = clock or FakeClock()
        self.ids = Ids()
        self.lifecycle = lifecycle or LifecycleOptions()
        #: the fake's guesses where DigitalOcean's answer is undocumented (flip one to test the other outcome)
        self.assumptions = assumptions or Assumptions()
        self.databases = DatabasesBackend(self.clock, self.ids, self.lifecycle, self.assumptions)
        self.apps = AppsBackend(self.clock, self.ids, self.lifecycle)
        self.github = GitHubBackend(self.clock)
        self.faults = Faults(self.databases)
        # rate_limit_window: the quota's window (DigitalOcean: an hour), advertised in ratelimit-* headers;
        # burst_window: the per-minute limit's. Scale both down to test pacing in seconds.
        self.limiter = RateLimiter(
            rate_limit_per_minute, rate_limit_per_hour, burst_window=burst_window, quota_window=rate_limit_window
        )
        self.tokens: dict[str, TokenOptions] = {}
        self.required_tokens: set[str] | None = None
        self.calls: list[Call] = []
        self.unmatched: list[Call] = []

    def reset(self) -> None:
        """Forget everything: state, calls, faults, tokens (moto: reset re-runs ``__init__``)."""
        with self._lock:
            self.__init__(**self._init_args)  # type: ignore[misc]

    def __repr__(self) -> str:
        return (
            f"FakeDigitalOcean(clusters={len(self.databases.clusters)}, apps={len(self.apps.apps)}, "
            f"repos={len(self.github.repos)}, calls={len(self.calls)})"
        )

    # -- the seams -----------------------------------------------------------------------------------------
    def handle(self, request: httpx.Request) -> httpx.Response:
        """Answer one request (thread-safe). ``httpx.MockTransport(fake.handle)`` is the in-process seam."""
        with self._lock:
            request.read()
            return _responses.handle(self, request)

    def http_transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def http_client(self, token: str | None = "fake-token", base_url: str = DO_API_URL) -> httpx.Client:
        """An ``httpx.Client`` wired to the fake (the caller closes it)."""
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(transport=self.http_transport(), base_url=base_url, headers=headers)

    @contextmanager
    def serve(self, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
        """Run the loopback HTTP server in a thread; yields its base URL (``http://127.0.0.1:<port>``)."""
        from ._server import serving

        with serving(self, host, port) as url:
            yield url

    # -- recording -----------------------------------------------------------------------------------------
    def record(self, method: str, path: str, status: int, *, matched: bool = True) -> None:
        call = Call(method, path, status)
        self.calls.append(call)
        if not matched:
            self.unmatched.append(call)

    @property
    def request_count(self) -> int:
        return len(self.calls)

    def calls_to(self, method: str, path_prefix: str = "") -> list[Call]:
        return [c for c in self.calls if c.method == method.upper() and c.path.startswith(path_prefix)]

    def assert_no_unmatched(self) -> None:
        """Fail when a request hit a route the fake does not implement (strict mode checks this on exit)."""
        if self.unmatched:
            listed = ", ".join(f"{c.method} {c.path}" for c in self.unmatched)
            raise AssertionError(f"requests to routes do_pgpool.testing does not implement: {listed}")

    # -- tokens ------------------------------------------------------------------------------------------------
    def add_token(self, token: str, *, view_credentials: bool = True, write: bool = True) -> None:
        self.tokens[token] = TokenOptions(view_credentials=view_credentials, write=write)

    def require_token(self, *tokens: str) -> None:
        """Accept only these bearer tokens (and those given to ``add_token``); by default any token is accepted."""
        self.required_tokens = set(tokens)

    def accepts(self, token: str) -> bool:
        return self.required_tokens is None or token in self.required_tokens or token in self.tokens

    def token_options(self, token: str) -> TokenOptions:
        return self.tokens.get(token, TokenOptions())

    # -- seeding helpers -------------------------------------------------------------------------------------
    def add_cluster(self, name: str = "app-db", **kwargs: Any) -> FakeCluster:
        """A managed database cluster; see ``DatabasesBackend.create_cluster`` for the keywords
        (size, engine, status, num_nodes, region, version, tags, host, port, pool_port, password, users,
        db_names, maintenance_pending, config)."""
        with self._lock:
            return self.databases.create_cluster(name, **kwargs)

    def add_pool(
        self,
        cluster: FakeCluster | str,
        name: str,
        size: int,
        *,
        mode: str = "transaction",
        db: str = "defaultdb",
        user: str | None = "doadmin",
        validate: bool = True,
    ) -> FakePool:
        """A PgBouncer pool. With ``validate`` (default) DigitalOcean's rules apply (FakeAPIError otherwise);
        ``validate=False`` seeds states the API would refuse (an over-budget cluster, for instance)."""
        with self._lock:
            found = self.databases.cluster(cluster)
            if validate:
                body: dict[str, Any] = {"name": name, "mode": mode, "size": size, "db": db}
                if user is not None:
                    body["user"] = user
                return self.databases.add_connection_pool(found.id, body)
            pool = FakePool(name, mode, size, db, user, found)
            found.pools[name] = pool
            return pool

    def add_user(self, cluster: FakeCluster | str, name: str, password: str | None = None) -> FakeUser:
        with self._lock:
            found = self.databases.cluster(cluster)
            user = self.databases.add_user(found.id, {"name": name})
            if password is not None:
                user.password = password
            return user

    def add_app(
        self,
        name: str = "web-app",
        *,
        spec: Mapping[str, Any] | None = None,
        envs: Mapping[str, str] | None = None,
        component_envs: Mapping[str, Mapping[str, str]] | None = None,
        secrets: Iterable[str] = ("DATABASE_URL",),
    ) -> FakeApp:
        """An App Platform app. Either a whole ``spec``, or app-level ``envs`` plus ``component_envs``
        (``{"web": {"KEY": "value"}}``, default one service ``web``); keys listed in ``secrets`` are stored as
        SECRET (``EV[...]``) values. Read plaintext back with ``fake.apps.env_value(app, key, component)``."""
        secret_keys = set(secrets)

        def entries(values: Mapping[str, str]) -> list[dict[str, str]]:
            return [
                {"key": k, "value": v, "type": "SECRET", "scope": "RUN_TIME"}
                if k in secret_keys
                else {"key": k, "value": v, "type": "GENERAL", "scope": "RUN_AND_BUILD_TIME"}
                for k, v in values.items()
            ]

        if spec is None:
            components = component_envs if component_envs is not None else {"web": {}}
            built: dict[str, Any] = {"name": name, "region": "nyc"}
            if envs:
                built["envs"] = entries(envs)
            built["services"] = [
                {"name": comp, "instance_count": 1, "instance_size_slug": "apps-s-1vcpu-0.5gb",
                 "github": {"repo": f"acme/{name}", "branch": "main", "deploy_on_push": True},
                 **({"envs": entries(values)} if values else {})}
                for comp, values in components.items()
            ]
            spec = built
        with self._lock:
            return self.apps.create_app(spec)

    def cluster(self, ref: FakeCluster | str) -> FakeCluster:
        return self.databases.cluster(ref)

    def app(self, ref: FakeApp | str) -> FakeApp:
        return self.apps.app(ref)

    # -- state files -------------------------------------------------------------------------------------------
    def save_state(self, path: str | Path) -> None:
        from ._state import save_state

        with self._lock:
            save_state(self, Path(path))

    def load_state(self, path: str | Path) -> None:
        from ._state import load_state

        with self._lock:
            load_state(self, Path(path))
