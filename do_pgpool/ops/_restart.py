"""``restart``: what DigitalOcean offers instead of a database restart, and an App Platform restart.

DigitalOcean's API has **no** database restart, reboot or power endpoint. The closest thing is starting the
cluster's *pending maintenance* (``PUT /v2/databases/{id}/install_update``, 204): DigitalOcean builds new nodes
with the updates applied, replicates the data, and switches DNS over to them. It is documented as "no downtime,
but there may be brief periods of latency"; the nodes' IP addresses change, and (inference) connections open at
the switchover drop, so clients must connect by DNS name. When nothing is pending there is nothing to start:
``restart_cluster`` reports that and writes nothing.

The wait after ``install_update`` cannot compare a size. It ends when the cluster is ``online`` with no update
pending **and** the update was seen running or ran since the request: the status left ``online`` (the
switch-over), or the cluster's events log gained a ``cluster_maintenance_perform`` event
(``_wait.wait_for_maintenance``). So the maintenance events are read once before the request.

``restart_app`` restarts an App Platform app (``POST /v2/apps/{id}/restart``, a rolling restart of all or some
components). That closes every database connection the app holds: often the fastest way to free slots when the
application leaks connections. It waits for the restart's deployment to reach ``ACTIVE``.

Each is ``plan_*`` (pure) called by ``prepare_*`` (reads only) + ``apply_*`` (writes, waits; with ``dry_run``
only the result it would have), so a caller can show the plan and ask for confirmation in between;
``restart_cluster`` / ``restart_app`` do both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from .._changes import Action, Change, Plan, Result
from .._exceptions import ConfigError, Param
from .._jsonable import jsonable
from .._models import Cluster
from ..api._apps import find_app
from ..api._poll import Stopwatch, WaitOptions, retry_while_busy
from ..api._ports import AppsAPI, DatabasesAPI
from ._wait import maintenance_events, wait_for_deployment, wait_for_maintenance, wait_until_online

__all__ = [
    "AppRestartPlan",
    "ClusterRestartPlan",
    "RestartResult",
    "apply_app_restart",
    "apply_cluster_restart",
    "plan_app_restart",
    "plan_cluster_restart",
    "prepare_app_restart",
    "prepare_cluster_restart",
    "restart_app",
    "restart_cluster",
]

#: App spec sections that hold restartable components.
COMPONENT_KINDS = ("services", "workers", "jobs", "static_sites", "functions")


@dataclass(frozen=True)
class ClusterRestartPlan(Plan):
    cluster: Cluster
    #: one change when maintenance is pending, else none
    changes: tuple[Change[tuple[str, ...]], ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def pending(self) -> bool:
        return bool(self.changes)

    def describe(self) -> str:
        if not self.changes:
            return f"cluster {self.cluster.name!r}: no maintenance pending; nothing to start"
        return self.changes[0].describe()


def plan_cluster_restart(cluster: Cluster) -> ClusterRestartPlan:
    """Start the pending maintenance, if any. Before: the updates pending; after: none."""
    if not cluster.maintenance_pending:
        return ClusterRestartPlan(cluster)
    updates = cluster.maintenance_description
    what = "; ".join(updates) or "updates pending (DigitalOcean gives no description)"
    detail = (f"{what}. New nodes, DNS switch-over, brief latency; node IPs change, so clients must connect by "
              "hostname.")  # fmt: skip
    subject = f"cluster {cluster.name!r} (install_update)"
    return ClusterRestartPlan(cluster, (Change(Action.UPDATE, subject, updates, (), detail,
                                               verb="start pending maintenance on"),))  # fmt: skip


@dataclass(frozen=True)
class AppRestartPlan(Plan):
    app_id: str
    app_name: str
    components: tuple[str, ...] = ()
    #: every component of the app, for messages
    all_components: tuple[str, ...] = ()
    #: always one: a restart is asked for, so it is done
    changes: tuple[Change[tuple[str, ...]], ...] = ()
    warnings: tuple[str, ...] = ()

    def describe(self) -> str:
        return self.changes[0].describe()


def plan_app_restart(app: dict[str, Any], components: Sequence[str] = ()) -> AppRestartPlan:
    """Check the component names against the app object (``GET /v2/apps/{id}``) and plan a rolling restart."""
    spec = app.get("spec") or {}
    names = tuple(
        str(c.get("name")) for kind in COMPONENT_KINDS for c in spec.get(kind) or [] if isinstance(c, dict)
    )
    unknown = [c for c in components if names and c not in names]
    name = str(spec.get("name") or app.get("id"))
    if unknown:
        raise ConfigError(
            f"app {name!r} has no component {', '.join(map(repr, unknown))} (components: {', '.join(names)})"
        )
    which = ", ".join(components) if components else "all components"
    change = Change(Action.UPDATE, f"app {name!r} ({which})", tuple(components), tuple(components),
                    "a rolling restart; every database connection the app holds is closed and reopened",
                    verb="restart")  # fmt: skip
    return AppRestartPlan(str(app["id"]), name, tuple(components), names, (change,))


@dataclass(frozen=True)
class RestartResult(Result):
    """What a restart did (``dry_run``: would do; ``waited`` False: started, not waited for). ``target``: cluster
    or app."""

    action: Action
    target: str
    name: str
    id: str
    description: str
    elapsed: float
    requests: int
    cluster: Cluster | None = None
    deployment_id: str | None = None
    phase: str | None = None
    components: tuple[str, ...] = ()
    dry_run: bool = False
    waited: bool = True
    verb = "restart"  # restarted, would restart, requested, and:
    nothing = "nothing pending"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.outcome,
            "target": self.target,
            self.target: {"id": self.id, "name": self.name},
            "description": self.description,
            "elapsed_seconds": round(self.elapsed, 1),
            "requests": self.requests,
        }
        if self.cluster is not None:
            out["state"] = jsonable(self.cluster, only=("status", "size", "num_nodes", "maintenance_pending"))
        if self.target == "app":
            out["deployment"] = {"id": self.deployment_id, "phase": self.phase}
            out["components"] = list(self.components)
        return out


# -- cluster ---------------------------------------------------------------------------------------


def prepare_cluster_restart(gateway: DatabasesAPI, *, cluster: str | None = None) -> ClusterRestartPlan:
    """One read: the cluster, with its ``maintenance_window.pending`` flag."""
    return plan_cluster_restart(gateway.find_cluster(cluster))


def apply_cluster_restart(
    gateway: DatabasesAPI,
    plan: ClusterRestartPlan,
    *,
    dry_run: bool = False,
    wait: bool = True,
    waiting: WaitOptions | None = None,
) -> RestartResult:
    """Start the pending maintenance (if any) and, with ``wait``, wait until it is over. One deadline for all."""
    watch = Stopwatch(gateway, waiting)
    cluster = plan.cluster
    if dry_run or not plan:
        return _cluster_result(plan.action, plan, cluster, watch, dry_run=dry_run and bool(plan))
    if cluster.status != "online":
        cluster = wait_until_online(gateway, cluster, wait=wait, waiting=watch.waiting())
        if not cluster.maintenance_pending:  # the busy spell was the maintenance itself
            return _cluster_result(Action.NONE, plan, cluster, watch)

    target = cluster
    # What the events log held before the request: a maintenance event beyond it is this update's.
    before = maintenance_events(gateway, cluster.id) if wait else frozenset[str]()
    retry_while_busy(
        lambda: gateway.install_update(target.id),
        what=f"cluster {cluster.name!r}",
        action="install_update",
        wait=wait,
        waiting=watch.waiting(),
    )
    if not wait:
        return _cluster_result(plan.action, plan, cluster, watch, waited=False)
    done = wait_for_maintenance(gateway, cluster.id, before=before, waiting=watch.waiting())
    return _cluster_result(plan.action, plan, done, watch)


def restart_cluster(
    gateway: DatabasesAPI,
    *,
    cluster: str | None = None,
    dry_run: bool = False,
    wait: bool = True,
    waiting: WaitOptions | None = None,
) -> RestartResult:
    """Start the cluster's pending maintenance: the nearest thing to a restart DigitalOcean's API has."""
    watch = Stopwatch(gateway, waiting)
    plan = prepare_cluster_restart(gateway, cluster=cluster)
    done = apply_cluster_restart(gateway, plan, dry_run=dry_run, wait=wait, waiting=waiting)
    return replace(done, elapsed=watch.elapsed(), requests=watch.requests())


def _cluster_result(
    action: Action, plan: ClusterRestartPlan, state: Cluster, watch: Stopwatch, *, dry_run: bool = False,
    waited: bool = True,
) -> RestartResult:
    return RestartResult(
        action, "cluster", state.name, state.id, plan.describe(), watch.elapsed(), watch.requests(), cluster=state,
        dry_run=dry_run, waited=waited,
    )


# -- App Platform ----------------------------------------------------------------------------------


def prepare_app_restart(
    gateway: AppsAPI, app: str, *, components: Sequence[str] = ()
) -> AppRestartPlan:
    """Find the app by uuid (1 request) or by name (the app list), and check the component names."""
    if not app or not app.strip():
        raise ConfigError([Param("app"), " must name an App Platform app (its name or id)"])
    return plan_app_restart(find_app(gateway, app.strip(), fresh=False), components)  # the spec is only read


def apply_app_restart(
    gateway: AppsAPI,
    plan: AppRestartPlan,
    *,
    dry_run: bool = False,
    wait: bool = True,
    waiting: WaitOptions | None = None,
) -> RestartResult:
    """POST the restart (never retried blindly: a second restart would restart again) and wait for ACTIVE."""
    watch = Stopwatch(gateway, waiting)
    if dry_run:
        return _app_result(plan, watch, dry_run=True)
    deployment = gateway.restart_app(plan.app_id, list(plan.components) or None)
    deployment_id = str(deployment.get("id") or "")
    phase = str(deployment.get("phase") or "") or None
    if not wait or not deployment_id:
        return _app_result(plan, watch, deployment_id, phase, waited=False)
    done = wait_for_deployment(gateway, plan.app_id, deployment_id, app_name=plan.app_name, waiting=waiting)
    return _app_result(plan, watch, deployment_id, str(done.get("phase") or "ACTIVE"))


def restart_app(
    gateway: AppsAPI,
    app: str,
    *,
    components: Sequence[str] = (),
    dry_run: bool = False,
    wait: bool = True,
    waiting: WaitOptions | None = None,
) -> RestartResult:
    """Rolling-restart an App Platform app (name or uuid) and wait for the restart's deployment to be ACTIVE."""
    watch = Stopwatch(gateway, waiting)
    plan = prepare_app_restart(gateway, app, components=components)
    done = apply_app_restart(gateway, plan, dry_run=dry_run, wait=wait, waiting=waiting)
    return replace(done, elapsed=watch.elapsed(), requests=watch.requests())


def _app_result(
    plan: AppRestartPlan, watch: Stopwatch, deployment_id: str = "", phase: str | None = None, *,
    dry_run: bool = False, waited: bool = True,
) -> RestartResult:
    return RestartResult(
        plan.action, "app", plan.app_name, plan.app_id, plan.describe(), watch.elapsed(), watch.requests(),
        deployment_id=deployment_id or None, phase=phase, components=plan.components, dry_run=dry_run, waited=waited,
    )
