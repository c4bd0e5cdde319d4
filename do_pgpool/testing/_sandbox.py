"""The incident on one machine, no account: a real PostgreSQL and PgBouncer behind the fake DigitalOcean API.

``Sandbox.start()`` starts the servers of ``_servers`` (a 1 GiB cluster's shape: 25 connections, 3 reserved,
TLS, a non-superuser ``doadmin``), seeds the fake with the demo data (``seed_demo``: cluster ``app-db``,
App Platform app ``web-app``, GitHub repo ``acme/web``) whose cluster connection points at that PostgreSQL
and whose pool connections point at that PgBouncer, and serves the fake on loopback. Every pool created,
resized or deleted through the API becomes the same pool in PgBouncer before the API answers, so the connection
string the API hands out works; a user created through the API becomes a PostgreSQL role. Leaving the ``with``
block stops everything by pid and removes the temporary folder.

    with Sandbox.start() as box:
        subprocess.run(["do-pgpool", "fix", "--size", "20"], env={**os.environ, **box.env})
"""

from __future__ import annotations

import contextlib
import dataclasses
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ._clock import SystemClock
from ._db_models import FakeCluster
from ._errors import FakeAPIError
from ._fake import FakeDigitalOcean
from ._server import serving
from ._servers import PoolAlias, RealServers, ServersUnavailable
from ._state import seed_demo

__all__ = ["SANDBOX_CLUSTER", "SANDBOX_TOKEN", "Sandbox"]

SANDBOX_CLUSTER = "app-db"
#: the fake accepts any well-formed token; this one is printed for the user to export
SANDBOX_TOKEN = "dop_v1_sandbox"


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox: ``env`` is what a shell exports to point do-pgpool at it."""

    servers: RealServers
    fake: FakeDigitalOcean
    api_url: str
    cluster: FakeCluster

    @property
    def env(self) -> dict[str, str]:
        return {"DIGITALOCEAN_API_URL": self.api_url, "DIGITALOCEAN_TOKEN": SANDBOX_TOKEN,
                "DO_PGPOOL_CLUSTER": self.cluster.name}  # fmt: skip

    @property
    def api_port(self) -> int:
        return int(self.api_url.rsplit(":", 1)[1])

    @classmethod
    @contextlib.contextmanager
    def start(
        cls, *, host: str = "127.0.0.1", api_port: int = 0, pgbouncer: Path | None = None,
        max_prepared_statements: int | None = None,
    ) -> Iterator[Sandbox]:  # fmt: skip
        """Start PostgreSQL, PgBouncer (no pool yet) and the fake API; stop all three on exit.

        ``pgbouncer``: that binary instead of the one on PATH (say, a PgBouncer >= 1.21);
        ``max_prepared_statements``: its setting of that name (1.21+; None leaves it out).
        Raises ServersUnavailable (saying how to install them) when PostgreSQL or PgBouncer is missing or
        PgBouncer refuses its configuration.
        """
        passwords = {"doadmin": secrets.token_urlsafe(16), "app": secrets.token_urlsafe(16)}
        servers = RealServers.start_postgres(passwords=passwords)
        try:
            if pgbouncer is not None:
                servers.binaries = dataclasses.replace(servers.binaries, pgbouncer=pgbouncer)
            servers.max_prepared_statements = max_prepared_statements
            servers.start_pgbouncer({})
            fake = FakeDigitalOcean(clock=SystemClock(), strict=False)
            cluster = _seed(fake, servers)
            fake.databases.listeners.append(_Mirror(servers, cluster))
            with serving(fake, host, api_port) as url:
                yield cls(servers, fake, url, cluster)
        finally:
            servers.stop()


def _seed(fake: FakeDigitalOcean, servers: RealServers) -> FakeCluster:
    """The demo data, with the cluster's endpoints, version and users those of the real servers."""
    if servers.bouncer_port is None:
        raise ServersUnavailable("PgBouncer is not running")
    seed_demo(fake, host=servers.host, port=servers.pg_port, pool_port=servers.bouncer_port)
    cluster = fake.cluster(SANDBOX_CLUSTER)
    cluster.version = str(servers.server_version_num // 10000)
    cluster.ca_pem = servers.ca_pem  # /ca serves the CA that issued the servers' certificate
    for name, password in servers.passwords.items():
        user = cluster.users.get(name) or fake.add_user(cluster, name)
        user.password = password
    return cluster


class _Mirror:
    """A listener of the fake: users created through the API become PostgreSQL roles (known to PgBouncer),
    and PgBouncer serves exactly the sandbox cluster's pools."""

    def __init__(self, servers: RealServers, cluster: FakeCluster) -> None:
        self.servers = servers
        self.cluster = cluster

    def __call__(self, cluster: FakeCluster) -> None:
        if cluster is not self.cluster:
            return
        try:
            for user in cluster.users.values():
                if user.name not in self.servers.passwords:
                    self.servers.add_role(user.name, user.password)
            pools = {p.name: PoolAlias(p.db, p.size, p.mode, p.user) for p in cluster.pools.values()}
            if pools != self.servers.pools:
                self.servers.set_pools(pools)
        except Exception as exc:  # noqa: BLE001 - the API answers 500 rather than hide what the servers lack
            raise FakeAPIError(500, f"the sandbox's servers did not take the change: {exc}") from exc
