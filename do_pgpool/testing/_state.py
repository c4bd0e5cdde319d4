"""State files for ``do-pgpool fake-api --state FILE``, and the ``demo`` seed.

The file is JSON written atomically with mode 0600 (it holds the fake's passwords). Lifecycles in flight
(a resize, a deployment) are not saved: a loaded state is settled.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._backend import FakePool
from ._github_backend import StoredSecret

if TYPE_CHECKING:
    from ._fake import FakeDigitalOcean

__all__ = ["load_state", "save_state", "seed_demo", "state_dict"]

FORMAT = 1


def state_dict(fake: FakeDigitalOcean) -> dict[str, Any]:
    clusters = []
    for c in fake.databases.clusters.values():
        clusters.append({
            "id": c.id, "name": c.name, "size": c.size, "engine": c.engine, "status": c.status,
            "num_nodes": c.num_nodes, "region": c.region, "version": c.version, "tags": c.tags,
            "host": c.host, "port": c.port, "pool_port": c.pool_port, "db_names": c.db_names,
            "users": [{"name": u.name, "password": u.password, "role": u.role} for u in c.users.values()],
            "pools": [{"name": p.name, "mode": p.mode, "size": p.size, "db": p.db, "user": p.user}
                      for p in c.pools.values()],
            "maintenance_pending": c.maintenance_pending, "storage_size_mib": c.storage_size_mib,
            "config": c.config, "autoscale_storage": c.autoscale_storage,
            "ca_pem": c.ca_pem,
        })
    apps = [{"id": a.id, "spec": a.spec} for a in fake.apps.apps.values()]
    repos = []
    for r in fake.github.repos.values():
        scopes = {"": r.repo, **r.environments}
        repos.append({
            "full_name": r.full_name,
            "environments": list(r.environments),
            "workflows": None if r.workflows is None else sorted(r.workflows),
            "secrets": {env: {n: vars(s) for n, s in scope.secrets.items()} for env, scope in scopes.items()},
        })
    return {"format": FORMAT, "clusters": clusters, "apps": apps, "encrypted": fake.apps.encrypted,
            "github": repos}


def save_state(fake: FakeDigitalOcean, path: Path) -> None:
    text = json.dumps(state_dict(fake), indent=2, sort_keys=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text + "\n")
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_state(fake: FakeDigitalOcean, path: Path) -> None:
    data = json.loads(path.read_text())
    if data.get("format") != FORMAT:
        raise ValueError(f"{path}: not a do-pgpool fake state file (format {data.get('format')!r})")
    db = fake.databases
    for c in data.get("clusters", []):
        users = c.get("users") or [{"name": "doadmin", "password": None, "role": "primary"}]
        cluster = db.create_cluster(
            c["name"], size=c["size"], engine=c.get("engine", "pg"), status=c.get("status", "online"),
            num_nodes=c.get("num_nodes", 1), region=c.get("region", "nyc3"), version=c.get("version", "16"),
            tags=c.get("tags", ()), host=c.get("host"), port=c.get("port", 25060),
            pool_port=c.get("pool_port", 25061), users=[u["name"] for u in users],
            db_names=c.get("db_names", ("defaultdb",)), maintenance_pending=c.get("maintenance_pending", False),
            config=c.get("config"),
        )
        for u in users:
            if u.get("password"):
                cluster.users[u["name"]].password = u["password"]
            cluster.users[u["name"]].role = u.get("role", cluster.users[u["name"]].role)
        cluster.storage_size_mib = c.get("storage_size_mib")
        cluster.autoscale_storage = c.get("autoscale_storage") or {"enabled": False}
        cluster.ca_pem = c.get("ca_pem") or cluster.ca_pem
        if c.get("id"):
            del db.clusters[cluster.id]
            cluster.id = c["id"]
            db.clusters[cluster.id] = cluster
        for p in c.get("pools", []):
            cluster.pools[p["name"]] = FakePool(p["name"], p["mode"], p["size"], p["db"], p.get("user"), cluster)
    fake.apps.encrypted.update(data.get("encrypted", {}))
    for a in data.get("apps", []):
        app = fake.apps.create_app(a["spec"])
        if a.get("id"):
            del fake.apps.apps[app.id]
            app.id = a["id"]
            fake.apps.apps[app.id] = app
    for r in data.get("github", []):
        repo = fake.github.add_repo(r["full_name"], environments=r.get("environments", ()),
                                    workflows=r.get("workflows"))
        for env, secrets in (r.get("secrets") or {}).items():
            scope = repo.environments[env] if env else repo.repo
            for name, stored in secrets.items():
                scope.secrets[name] = StoredSecret(**stored)


def seed_demo(fake: FakeDigitalOcean, host: str | None = None, port: int = 25060, pool_port: int = 25061) -> None:
    """A 1 GiB PostgreSQL cluster ``app-db`` (pool budget 22), an App Platform app ``web-app`` whose
    DATABASE_URL (a SECRET) points at the cluster directly, and a GitHub repo ``acme/web`` (env production)."""
    cluster = fake.add_cluster(
        "app-db", size="db-s-1vcpu-1gb", tags=("production",), host=host, port=port, pool_port=pool_port
    )
    direct = cluster.to_api()["connection"]["uri"]
    fake.add_app("web-app", component_envs={"web": {"DATABASE_URL": direct, "LOG_LEVEL": "info"}})
    fake.github.add_repo("acme/web", environments=("production",))
