"""The routing table, as data: it reads like the API reference (moto's ``urls.py``).

Each route names the backend (``databases``, ``apps``, ``github``) and the backend method to call. Path
parameters become keyword arguments; ``body`` says whether a JSON body is passed (``"required"``/``"optional"``);
``query`` lists the query parameters passed by name (``("*",)`` passes them all as ``query=``). The result is
wrapped as ``{envelope: result}`` (or returned as is when ``envelope`` is None) with ``status``; 202/204 have
no body.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["ROUTES", "Route", "match"]

_UUID = r"(?P<database_cluster_uuid>[^/]+)"
_DB = rf"^/v2/databases/{_UUID}"
_REPO = r"^/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)"


@dataclass(frozen=True)
class Route:
    method: str
    pattern: str
    backend: str
    handler: str
    status: int = 200
    envelope: str | None = None
    body: str | None = None
    query: tuple[str, ...] = ()
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "regex", re.compile(self.pattern))

    @property
    def service(self) -> str:
        return "github" if self.backend == "github" else "digitalocean"


ROUTES: tuple[Route, ...] = (
    # Databases (operationIds databases_*)
    Route("GET", r"^/v2/databases$", "databases", "list_clusters", envelope="databases", query=("tag_name",)),
    Route("GET", r"^/v2/databases/options$", "databases", "list_options"),
    Route("GET", rf"{_DB}$", "databases", "get_cluster", envelope="database"),
    Route("GET", rf"{_DB}/config$", "databases", "get_config", envelope="config"),
    Route("PATCH", rf"{_DB}/config$", "databases", "patch_config", body="required"),
    Route("GET", rf"{_DB}/ca$", "databases", "get_ca", envelope="ca"),
    Route("GET", rf"{_DB}/users$", "databases", "list_users", envelope="users"),
    Route("POST", rf"{_DB}/users$", "databases", "add_user", 201, "user", body="required"),
    Route("GET", rf"{_DB}/users/(?P<username>[^/]+)$", "databases", "get_user", envelope="user"),
    Route("GET", rf"{_DB}/dbs$", "databases", "list", envelope="dbs"),
    Route("POST", rf"{_DB}/dbs$", "databases", "add", 201, "db", body="required"),
    Route("GET", rf"{_DB}/pools$", "databases", "list_connection_pools", envelope="pools"),
    Route("POST", rf"{_DB}/pools$", "databases", "add_connection_pool", 201, "pool", body="required"),
    Route("GET", rf"{_DB}/pools/(?P<pool_name>[^/]+)$", "databases", "get_connection_pool", envelope="pool"),
    Route("PUT", rf"{_DB}/pools/(?P<pool_name>[^/]+)$", "databases", "update_connection_pool", 204, body="required"),
    Route("DELETE", rf"{_DB}/pools/(?P<pool_name>[^/]+)$", "databases", "delete_connection_pool", 204),
    Route("PUT", rf"{_DB}/resize$", "databases", "update_cluster_size", 202, body="required"),
    Route("PUT", rf"{_DB}/install_update$", "databases", "install_update", 204),
    Route("PUT", rf"{_DB}/maintenance$", "databases", "update_maintenance_window", 204, body="required"),
    Route("GET", rf"{_DB}/events$", "databases", "list_events_logs", envelope="events"),
    Route("GET", rf"{_DB}/autoscale$", "databases", "get_autoscale", envelope="autoscale"),
    Route("PUT", rf"{_DB}/autoscale$", "databases", "update_autoscale", 204, body="required"),
    # App Platform (operationIds apps_*)
    Route("GET", r"^/v2/apps$", "apps", "list", query=("*",)),
    Route("GET", r"^/v2/apps/(?P<id>[^/]+)$", "apps", "get", envelope="app"),
    Route("PUT", r"^/v2/apps/(?P<id>[^/]+)$", "apps", "update", envelope="app", body="required"),
    Route("POST", r"^/v2/apps/(?P<app_id>[^/]+)/restart$", "apps", "restart", envelope="deployment", body="optional"),
    Route("GET", r"^/v2/apps/(?P<app_id>[^/]+)/deployments$", "apps", "list_deployments", query=("*",)),
    Route(
        "GET",
        r"^/v2/apps/(?P<app_id>[^/]+)/deployments/(?P<deployment_id>[^/]+)$",
        "apps",
        "get_deployment",
        envelope="deployment",
    ),
    # GitHub Actions secrets and workflow dispatch (docs.github.com/rest/actions)
    Route("GET", rf"{_REPO}/actions/secrets/public-key$", "github", "get_repo_public_key"),
    Route("GET", rf"{_REPO}/actions/secrets$", "github", "list_repo_secrets"),
    Route("PUT", rf"{_REPO}/actions/secrets/(?P<secret_name>[^/]+)$", "github", "create_or_update_repo_secret",
          body="required"),
    Route("GET", rf"{_REPO}/environments/(?P<environment_name>[^/]+)/secrets/public-key$", "github",
          "get_environment_public_key"),
    Route("PUT", rf"{_REPO}/environments/(?P<environment_name>[^/]+)/secrets/(?P<secret_name>[^/]+)$", "github",
          "create_or_update_environment_secret", body="required"),
    Route("POST", rf"{_REPO}/actions/workflows/(?P<workflow_id>[^/]+)/dispatches$", "github",
          "create_workflow_dispatch", 204, body="required"),
)


def match(method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The first route for ``method`` whose pattern matches ``path``, with its path parameters."""
    for route in ROUTES:
        if route.method == method:
            found = route.regex.match(path)
            if found:
                return route, found.groupdict()
    return None
