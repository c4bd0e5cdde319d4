"""What long-running operations wait for: a cluster ready, a maintenance over, a deployment active.

All three are built on ``_poll.poll_until`` (bounded polling with backoff, 412/429/5xx handling) and take one
``WaitOptions`` (deadline, clock, sleep, backoff, progress callback):

- ``wait_until_ready``: a database cluster is ``online`` **and** has the requested size, node count and
  storage. Right after ``PUT /resize`` answers 202 the cluster can still read ``online`` with the *old* size
  for a few polls (doctl PR #1936); matching the target is what keeps the wait from returning before the
  resize has even begun. Every status other than ``online`` counts as busy, including ones not in the enum.
- ``wait_for_maintenance``: after ``PUT /install_update`` nothing can be compared with a target. Done is
  ``online`` with ``maintenance_window.pending`` false **and** proof that the update ran since the request:
  the status was seen leaving ``online``, or the events log holds a ``cluster_maintenance_perform`` event that
  was not there before the request. See its docstring for what is documented and what is assumed.
- ``wait_for_deployment``: an App Platform deployment reaches ``ACTIVE``; ``ERROR``, ``CANCELED`` and
  ``SUPERSEDED`` raise ``DeploymentFailedError``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .._exceptions import DeploymentFailedError, Param, PlanError
from .._models import Cluster
from ..api._poll import Observation, WaitOptions, poll_until
from ..api._ports import AppsAPI, DatabasesAPI

__all__ = [
    "DeploymentFailedError",
    "describe_shape",
    "maintenance_events",
    "wait_for_deployment",
    "wait_for_maintenance",
    "wait_until_online",
    "wait_until_ready",
]

#: Deployment phases that end a deployment, and the one that means success.
DEPLOYMENT_SUCCESS = "ACTIVE"
DEPLOYMENT_FAILED = frozenset({"ERROR", "CANCELED", "SUPERSEDED"})
#: The events-log type DigitalOcean documents for maintenance (schema ``events_logs``, ``event_type``).
MAINTENANCE_EVENT = "cluster_maintenance_perform"


# -- database clusters -------------------------------------------------------------------------------


def describe_shape(size: str, num_nodes: int, storage_size_mib: int | None = None) -> str:
    """``db-s-2vcpu-4gb x2`` (+ storage when given)."""
    text = f"{size} x{num_nodes}"
    return f"{text}, {storage_size_mib} MiB" if storage_size_mib is not None else text


def wait_until_ready(
    gateway: DatabasesAPI,
    cluster_id: str,
    *,
    size: str | None = None,
    num_nodes: int | None = None,
    storage_size_mib: int | None = None,
    waiting: WaitOptions | None = None,
) -> Cluster:
    """Wait until the cluster is ``online`` with the given size / node count / storage (each None: any).

    Any other status is busy, whatever it is called. ``online`` with the old size is busy too: after a 202 the
    resize may not have begun yet.
    """
    wanted = []
    if size is not None:
        wanted.append(f"size {size}")
    if num_nodes is not None:
        wanted.append(f"{num_nodes} node(s)")
    if storage_size_mib is not None:
        wanted.append(f"{storage_size_mib} MiB storage")
    expectation = "online" + (f" with {', '.join(wanted)}" if wanted else "")

    def judge(cluster: Cluster) -> Observation[Cluster]:
        mismatch = []
        if size is not None and cluster.size != size:
            mismatch.append(f"size {cluster.size} -> {size}")
        if num_nodes is not None and cluster.num_nodes != num_nodes:
            mismatch.append(f"nodes {cluster.num_nodes} -> {num_nodes}")
        if storage_size_mib is not None and cluster.storage_size_mib != storage_size_mib:
            mismatch.append(f"storage {cluster.storage_size_mib} -> {storage_size_mib} MiB")
        shape = describe_shape(cluster.size, cluster.num_nodes)
        detail = f"{shape}; waiting for {', '.join(mismatch)}" if mismatch else shape
        return Observation(cluster, cluster.status, detail, cluster.status == "online" and not mismatch)

    return _poll_cluster(gateway, cluster_id, judge, waiting=waiting, expectation=expectation)


def wait_until_online(gateway: DatabasesAPI, cluster: Cluster, *, wait: bool, waiting: WaitOptions) -> Cluster:
    """Before changing a cluster that is busy (a resize or maintenance running): wait until it is ``online``.

    With ``wait=False`` a busy cluster is refused (PlanError) with what to do; nothing is written either way.
    Returns ``cluster`` itself when it already is online, else the cluster as last read.
    """
    if cluster.status == "online":
        return cluster
    if not wait:
        raise PlanError(
            [f"cluster {cluster.name!r} is {cluster.status!r}, not online: a resize or maintenance is running. "
             "Run again without ", Param("no_wait", True), " to wait for it first, or later."]
        )
    return wait_until_ready(gateway, cluster.id, waiting=waiting)


def maintenance_events(gateway: DatabasesAPI, cluster_id: str) -> frozenset[str]:
    """The keys of the cluster's ``cluster_maintenance_perform`` events (one read of its events log).

    Read it right before ``install_update`` and hand it to ``wait_for_maintenance``: an event missing from it is
    one DigitalOcean logged after the request. Ids, not times: the client's clock is not DigitalOcean's.
    """
    return frozenset(e.key for e in gateway.list_events(cluster_id) if e.event_type == MAINTENANCE_EVENT)


def wait_for_maintenance(
    gateway: DatabasesAPI,
    cluster_id: str,
    *,
    before: frozenset[str],
    waiting: WaitOptions | None = None,
) -> Cluster:
    """Wait until the maintenance started by ``install_update`` is over; ``before`` is ``maintenance_events``
    read before the request.

    Done = ``online``, ``maintenance_window.pending`` false, and evidence that the update ran since the request:
    the status left ``online`` at some read, **or** the events log holds a ``cluster_maintenance_perform`` event
    that ``before`` does not.

    Documented: the update builds a new cluster, replicates and switches DNS; ``pending`` says whether updates
    are still to be installed; ``status`` (enum creating/online/resizing/migrating/forking); the events log and
    its ``cluster_maintenance_perform`` type. Assumed (undocumented, each covered by a flip of the fake's
    ``Assumptions``): whether the status leaves ``online`` during the update (``migrating``) or never does; when
    the flag clears (at the end, or already at the start); when the event is logged (at the end, or at the
    start). Requiring the flag false *and* ``online`` keeps an event logged at the start from ending the wait
    early; requiring a busy spell or a new event keeps a flag cleared at the start from ending it early. The
    one case no documented signal can tell apart from done: the cluster stays ``online`` and both the flag
    and the event change at the start.

    The events log is read only while the cluster is ``online`` with the flag cleared and no busy spell seen:
    when the status does leave ``online``, no extra read is spent.
    """
    seen_busy = [False]
    logged = [False]

    def judge(cluster: Cluster) -> Observation[Cluster]:
        online, pending = cluster.status == "online", cluster.maintenance_pending
        if not online:
            seen_busy[0] = True
        if online and not pending and not seen_busy[0] and not logged[0]:
            logged[0] = bool(maintenance_events(gateway, cluster_id) - before)
        done = online and not pending and (seen_busy[0] or logged[0])
        detail = f"{describe_shape(cluster.size, cluster.num_nodes)}; "
        detail += "update pending" if pending else "no update pending"
        if online and not done:
            if seen_busy[0]:
                detail += "; online again, waiting for the pending flag to clear"
            elif pending:
                detail += "; maintenance not started yet (or running without leaving online)"
            else:
                detail += (f"; flag cleared, but no switch-over (status leaving online) and no new {MAINTENANCE_EVENT}"
                           " event seen yet")
        return Observation(cluster, cluster.status, detail, done)

    expectation = (f"online with no update pending, after a switch-over or a new {MAINTENANCE_EVENT} event in "
                   "the cluster's events log")
    return _poll_cluster(gateway, cluster_id, judge, waiting=waiting, expectation=expectation)


def _poll_cluster(
    gateway: DatabasesAPI,
    cluster_id: str,
    judge: Callable[[Cluster], Observation[Cluster]],
    *,
    waiting: WaitOptions | None,
    expectation: str,
) -> Cluster:
    """Read the cluster until ``judge`` says done; progress and timeouts name it by its name once read."""
    name = [cluster_id]

    def observe() -> Observation[Cluster]:
        cluster = gateway.get_cluster(cluster_id)
        name[0] = cluster.name or cluster_id
        return judge(cluster)

    return poll_until(observe, what=lambda: f"cluster {name[0]!r}", waiting=waiting, expectation=expectation)


# -- App Platform deployments ------------------------------------------------------------------------


def wait_for_deployment(
    gateway: AppsAPI,
    app_id: str,
    deployment_id: str,
    *,
    app_name: str | None = None,
    waiting: WaitOptions | None = None,
) -> dict[str, Any]:
    """Wait until the deployment is ``ACTIVE``; raise ``DeploymentFailedError`` on ERROR/CANCELED/SUPERSEDED."""
    what = f"deployment {deployment_id} of app {app_name or app_id!r}"

    def observe() -> Observation[dict[str, Any]]:
        deployment = gateway.get_deployment(app_id, deployment_id)
        phase = str(deployment.get("phase") or "UNKNOWN")
        if phase in DEPLOYMENT_FAILED:
            raise DeploymentFailedError(
                f"{what} ended in {phase}{_failure_reason(deployment)}. "
                + _FAILED_HINT.get(phase, ""),
                phase=phase,
                deployment_id=deployment_id,
            )
        return Observation(deployment, phase, _steps(deployment), phase == DEPLOYMENT_SUCCESS)

    return poll_until(observe, what=what, waiting=waiting, expectation="phase ACTIVE")


_FAILED_HINT = {
    "ERROR": "The app keeps running its previous deployment; see the deployment logs in the control panel.",
    "CANCELED": "Someone canceled it; the previous deployment keeps running.",
    "SUPERSEDED": "A newer deployment replaced it before it finished; that one decides what runs now.",
}


def _steps(deployment: Mapping[str, Any]) -> str:
    progress = deployment.get("progress") or {}
    total, done = progress.get("total_steps"), progress.get("success_steps")
    if isinstance(total, int) and isinstance(done, int) and total:
        return f"{done}/{total} steps"
    return ""


def _failure_reason(deployment: Mapping[str, Any]) -> str:
    progress = deployment.get("progress") or {}
    for step in list(progress.get("summary_steps") or []) + list(progress.get("steps") or []):
        if not isinstance(step, Mapping):
            continue
        reason = step.get("reason") or {}
        message = reason.get("message") if isinstance(reason, Mapping) else None
        if message:
            component = step.get("component_name") or step.get("name") or "a step"
            return f" ({component}: {message})"
    return ""
