"""``resize``: a bigger plan for the cluster, checked before sending, and a wait that cannot return early.

- ``_resize_plan.plan_resize(cluster, options, request)`` is pure: it checks the request against DigitalOcean's
  size options and picks the target (see there).
- ``prepare_resize`` reads (cluster + options: 2 requests) and plans; ``apply_resize`` writes and waits (with
  ``dry_run``, only says what it would do); ``resize`` does both. The CLI calls the two with the plan shown
  in between.

The write is ``PUT /v2/databases/{id}/resize`` (202, no body). Then the wait (``_wait.wait_until_ready``) ends
only when the cluster is ``online`` with the requested size and node count: right after the 202 the cluster can
still read ``online`` with the old size.

A 412 on the PUT (the cluster is undergoing maintenance) is retried, because a resize is a PUT that sets a state
and so is safe to send again: with ``wait=True`` the PUT is re-sent with the same backoff until the deadline;
with ``wait=False`` the 412 is raised with what to do. A cluster that is not ``online`` when we start is waited
for first (``wait=True``) and then planned again, so a re-run after ``--no-wait`` simply waits for the resize
it started.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .._changes import Action, Result
from .._jsonable import jsonable
from .._models import Cluster
from ..api._poll import Stopwatch, WaitOptions, retry_while_busy
from ..api._ports import DatabasesAPI
from ._resize_plan import ResizePlan, ResizeRequest, plan_resize
from ._wait import describe_shape, wait_until_online, wait_until_ready

__all__ = [
    "ResizeResult",
    "apply_resize",
    "prepare_resize",
    "resize",
]


@dataclass(frozen=True)
class ResizeResult(Result):
    """What ``resize`` did (``dry_run``: would do); ``waited`` False: the resize was sent, not waited for."""

    action: Action
    plan: ResizePlan
    #: the cluster as last read (after the wait, when there was one)
    cluster: Cluster
    elapsed: float
    requests: int
    note: str | None = None
    dry_run: bool = False
    waited: bool = True
    verb = "resize"  # resized, would resize, requested, unchanged

    def as_dict(self) -> dict[str, Any]:
        out = {"action": self.outcome, **self.plan.as_dict()}
        out["state"] = jsonable(self.cluster, only=("status", "size", "num_nodes", "storage_size_mib"))
        out["elapsed_seconds"] = round(self.elapsed, 1)
        out["requests"] = self.requests
        out["note"] = self.note
        return out


def prepare_resize(gateway: DatabasesAPI, request: ResizeRequest, *, cluster: str | None = None) -> ResizePlan:
    """Read the cluster and the options (2 requests) and plan. Nothing is written."""
    target = gateway.find_cluster(cluster)
    options = gateway.list_options()
    return plan_resize(target, options, request)


def apply_resize(
    gateway: DatabasesAPI,
    plan: ResizePlan,
    *,
    dry_run: bool = False,
    wait: bool = True,
    waiting: WaitOptions | None = None,
) -> ResizeResult:
    """Send the plan's resize (if any) and, with ``wait``, wait until the cluster has the target shape.

    With ``dry_run`` nothing is sent or waited for: the result says what would be done. One deadline
    (``waiting.timeout`` seconds) covers waiting for a busy cluster, 412 retries and the resize itself.
    ``options`` (the list_options body) lets a plan made on a busy cluster be re-checked without a read.
    """
    watch = Stopwatch(gateway, waiting)

    def result(p: ResizePlan, cluster: Cluster, note: str | None = None, *, waited: bool = True) -> ResizeResult:
        return ResizeResult(p.action, p, cluster, watch.elapsed(), watch.requests(), note, waited=waited)

    cluster = plan.cluster
    if dry_run or (not plan and cluster.status == "online"):
        return ResizeResult(plan.action, plan, cluster, watch.elapsed(), watch.requests(),
                            dry_run=dry_run and bool(plan))  # fmt: skip
    if cluster.status != "online":
        if not plan:
            shape = describe_shape(plan.size, plan.num_nodes)
            if not wait:  # already the target shape: e.g. a re-run after --no-wait
                return result(plan, cluster, f"cluster is {cluster.status}; it already reads {shape}")
            # already the target shape: a resize we (or someone) started is running; wait for it
            done = wait_until_ready(
                gateway, cluster.id, size=plan.size, num_nodes=plan.num_nodes, waiting=watch.waiting()
            )
            return result(plan, done, f"waited for the running resize to {shape}")
        cluster = wait_until_online(gateway, cluster, wait=wait, waiting=watch.waiting())
        plan = plan_resize(cluster, plan.options or gateway.list_options(), plan.request)

    if not plan:
        return result(plan, cluster)

    after = plan.changes[0].after
    assert after is not None
    retry_while_busy(
        lambda: gateway.update_cluster_size(
            cluster.id, size=after.size, num_nodes=after.num_nodes, storage_size_mib=after.storage_size_mib
        ),
        what=f"cluster {cluster.name!r}",
        action="resize",
        wait=wait,
        waiting=watch.waiting(),
    )
    if not wait:
        return result(plan, cluster, "resize requested; not waiting (--no-wait)", waited=False)
    done = wait_until_ready(
        gateway,
        cluster.id,
        size=after.size,
        num_nodes=after.num_nodes,
        storage_size_mib=after.storage_size_mib,
        waiting=watch.waiting(),
    )
    return result(plan, done)


def resize(
    gateway: DatabasesAPI,
    request: ResizeRequest,
    *,
    cluster: str | None = None,
    dry_run: bool = False,
    wait: bool = True,
    waiting: WaitOptions | None = None,
) -> ResizeResult:
    """Resize ``cluster`` (name or uuid; None: the account's only PostgreSQL cluster) as ``request`` asks.

    ``prepare_resize`` (2 requests; invalid targets are refused before anything is sent), then ``apply_resize``:
    unless ``dry_run``, PUT the resize and (``wait=True``) wait until ``online`` with the requested size and
    node count, or raise WaitTimeoutError. The result's ``plan`` is what was decided.
    """
    watch = Stopwatch(gateway, waiting)
    plan = prepare_resize(gateway, request, cluster=cluster)
    done = apply_resize(gateway, plan, dry_run=dry_run, wait=wait, waiting=waiting)
    return replace(done, elapsed=watch.elapsed(), requests=watch.requests())
