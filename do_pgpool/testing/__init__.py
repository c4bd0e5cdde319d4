"""A stateful, in-memory fake of the DigitalOcean API (databases, App Platform) and GitHub Actions secrets,
for do-pgpool's tests and for yours: moto's shape, no monkeypatching.

    from do_pgpool.testing import FakeDigitalOcean

    fake = FakeDigitalOcean()
    cluster = fake.add_cluster("app-db", size="db-s-1vcpu-1gb")
    with httpx.Client(transport=fake.http_transport()) as http:
        do = DigitalOcean("any-token", http=http)
        ...
    assert fake.calls == [("GET", f"/v2/databases/{cluster.id}", 200), ...]

``with fake.serve() as url:`` runs the same fake as a loopback HTTP server (``do-pgpool fake-api``).
``with Sandbox.start() as box:`` serves it with a real local PostgreSQL and PgBouncer behind its cluster
(``do-pgpool sandbox``); ``RealServers`` starts just those servers.

May import ops/, targets/, postgres/, api/ and the top-level pure modules; never cli/ (the CLI imports the fake
for ``fake-api`` and ``sandbox``) or the package root.
"""

from ._assumptions import Assumptions
from ._backend import (
    AppsBackend,
    DatabasesBackend,
    FakeApp,
    FakeCluster,
    FakeDeployment,
    FakePool,
    FakeRepoSecrets,
    FakeUser,
    GitHubBackend,
)
from ._clock import FakeClock
from ._errors import FakeAPIError
from ._fake import Call, FakeDigitalOcean, TokenOptions
from ._faults import Faults
from ._ids import LifecycleOptions
from ._mock import MockDigitalOcean, mock_digitalocean
from ._sandbox import Sandbox
from ._servers import PoolAlias, RealServers, ServersUnavailable
from ._state import seed_demo

__all__ = [
    "AppsBackend",
    "Assumptions",
    "Call",
    "DatabasesBackend",
    "FakeAPIError",
    "FakeApp",
    "FakeClock",
    "FakeCluster",
    "FakeDeployment",
    "FakeDigitalOcean",
    "FakePool",
    "FakeRepoSecrets",
    "FakeUser",
    "Faults",
    "GitHubBackend",
    "LifecycleOptions",
    "MockDigitalOcean",
    "PoolAlias",
    "RealServers",
    "Sandbox",
    "ServersUnavailable",
    "TokenOptions",
    "mock_digitalocean",
    "seed_demo",
]
