"""Waiting for long-running operations: bounded polling with backoff; the clock and sleep are injectable.

``poll_until`` is the one loop. It reads, asks whether the reading means done, reports progress through a
callback, and sleeps a growing delay (5 s, x1.5, capped at 30 s by default: about 24 reads in 10 minutes,
not a fixed hammer) until done or until the deadline, where it raises ``WaitTimeoutError`` with what it saw
last. While waiting:

- 412 (maintenance in progress) means "busy": back off and read again.
- 429 that escaped the gateway's own retries means "busy" too, with a longer delay (``retry-after``, else a
  whole burst window), never a crash.
- 5xx and transport errors that escaped the gateway's retries are tolerated a few times in a row, then raised.
- Anything else (401, 403, 404, a malformed answer) is raised at once.

Three waits are built on it:

- ``wait_until_ready``: a database cluster is ``online`` **and** has the requested size, node count and
  storage. Right after ``PUT /resize`` answers 202 the cluster can still read ``online`` with the *old* size
  for a few polls (doctl PR #1936); matching the target is what keeps the wait from returning before the
  resize has even begun. Every status other than ``online`` counts as busy, including ones not in the enum.
- ``wait_for_maintenance``: after ``PUT /install_update`` nothing can be compared with a target, so the
  wait ends when the cluster is ``online`` after it was seen busy, or once ``maintenance_window.pending``
  turned false.
- ``wait_for_deployment``: an App Platform deployment reaches ``ACTIVE``; ``ERROR``, ``CANCELED`` and
  ``SUPERSEDED`` raise ``DeploymentFailedError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from ._exceptions import (
    DeploymentFailedError,
    DoPgpoolError,
    InvalidResponseError,
    PreconditionFailedError,
    RateLimitedError,
    ServerError,
    TransportError,
    WaitTimeoutError,
)
from ._models import Cluster

__all__ = [
    "DEFAULT_TIMEOUT",
    "Backoff",
    "DeploymentFailedError",
    "Observation",
    "Progress",
    "ProgressCallback",
    "format_duration",
    "poll_until",
    "retry_while_busy",
    "wait_for_deployment",
    "wait_for_maintenance",
    "wait_until_ready",
]

logger = logging.getLogger(__name__)

T = TypeVar("T")

#: Default deadline of every wait: 30 minutes.
DEFAULT_TIMEOUT = 30 * 60.0

#: Deployment phases that end a deployment, and the one that means success.
DEPLOYMENT_SUCCESS = "ACTIVE"
DEPLOYMENT_FAILED = frozenset({"ERROR", "CANCELED", "SUPERSEDED"})


@dataclass(frozen=True)
class Backoff:
    """Delay between reads: ``initial`` seconds, times ``factor`` after each read, at most ``maximum``."""

    initial: float = 5.0
    factor: float = 1.5
    maximum: float = 30.0
    #: after a 429 without ``retry-after`` that escaped the gateway's retries: one whole burst window
    rate_limited: float = 60.0
    #: 5xx / transport errors in a row (each already retried by the gateway) before giving up
    max_consecutive_errors: int = 5

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial or self.rate_limited <= 0:
            raise ValueError(f"invalid backoff {self!r}: need 0 < initial <= maximum, factor >= 1")
        if self.max_consecutive_errors < 1:
            raise ValueError("max_consecutive_errors must be at least 1")

    def delay(self, attempt: int) -> float:
        """The delay after read number ``attempt`` (0-based)."""
        return min(self.initial * self.factor ** min(attempt, 64), self.maximum)


@dataclass(frozen=True)
class Observation(Generic[T]):
    """One reading, judged: the value, a short ``status`` and ``detail`` for people, and whether it is done."""

    value: T
    status: str
    detail: str = ""
    done: bool = False


@dataclass(frozen=True)
class Progress:
    """What a wait reports after each read (and before each retry of a refused write)."""

    what: str
    status: str
    detail: str
    elapsed: float
    polls: int
    #: seconds until the next read; None once done
    next_in: float | None = None
    done: bool = False

    @property
    def key(self) -> tuple[str, str]:
        """Changes only when the state does, not with the clock: one line per change on a non-terminal."""
        return (self.status, self.detail)


ProgressCallback = Callable[[Progress], None]


def format_duration(seconds: float) -> str:
    """``95`` -> ``1m35s``; ``3600`` -> ``1h0m0s``; ``12.5`` -> ``12s``."""
    total = max(int(seconds), 0)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def poll_until(
    observe: Callable[[], Observation[T]],
    *,
    what: str | Callable[[], str],
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    on_progress: ProgressCallback | None = None,
    expectation: str = "",
) -> T:
    """Call ``observe`` until it says done; raise ``WaitTimeoutError`` at ``timeout`` seconds.

    Reads happen at 0, then after each backoff delay; the last sleep is shortened to end at the deadline, where
    one final read decides. ``what`` names the thing (a callable: a name learned by the first read);
    ``expectation`` (e.g. "online with size db-s-2vcpu-4gb") goes into the timeout message.
    """

    def name() -> str:
        return what() if callable(what) else what

    if timeout < 0:
        raise ValueError(f"timeout must not be negative, not {timeout!r}")
    policy = backoff or Backoff()
    start = clock()
    deadline = start + timeout
    polls = 0
    errors_in_a_row = 0
    last_status: str | None = None
    last_detail = ""
    while True:
        polls += 1
        delay = policy.delay(polls - 1)
        try:
            seen = observe()
        except PreconditionFailedError:
            status, detail = "busy (412)", "maintenance in progress; backing off"
        except RateLimitedError as exc:
            delay = max(exc.retry_after if exc.retry_after is not None else policy.rate_limited, delay)
            status, detail = "rate limited (429)", f"DigitalOcean's rate limit; next read in {delay:.0f}s"
        except InvalidResponseError:
            raise
        except (ServerError, TransportError) as exc:
            errors_in_a_row += 1
            if errors_in_a_row >= policy.max_consecutive_errors:
                raise
            status, detail = "API error", _short_error(exc)
        else:
            errors_in_a_row = 0
            status, detail = seen.status, seen.detail
            if seen.done:
                _report(on_progress, name(), status, detail, clock() - start, polls, None, done=True)
                return seen.value
        last_status, last_detail = status, detail
        remaining = deadline - clock()
        if remaining <= 0:
            elapsed = clock() - start
            wanted = f"; waiting for {expectation}" if expectation else ""
            seen_text = f"{last_status}" + (f" ({last_detail})" if last_detail else "")
            raise WaitTimeoutError(
                f"{name()} was not ready after {format_duration(elapsed)} ({polls} reads): last seen {seen_text}"
                f"{wanted}. The operation goes on at DigitalOcean; check again later or re-run with a longer "
                "--timeout.",
                last_status=last_status,
                elapsed=elapsed,
            )
        pause = min(delay, remaining)
        _report(on_progress, name(), status, detail, clock() - start, polls, pause)
        logger.debug("%s: %s (%s); next read in %.1fs", name(), status, detail, pause)
        sleep(pause)


def retry_while_busy(
    send: Callable[[], T],
    *,
    what: str,
    action: str,
    wait: bool,
    timeout: float,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    on_progress: ProgressCallback | None = None,
) -> T:
    """Send a state-setting PUT; on 412 (maintenance in progress) back off and send it again until ``timeout``.

    Only for writes that are safe to repeat (PUT /resize, PUT /install_update). With ``wait=False`` the 412 is
    raised at once, its message saying that nothing changed.
    """
    policy = backoff or Backoff()
    start = clock()
    attempt = 0
    while True:
        try:
            return send()
        except PreconditionFailedError as exc:
            if not wait:
                exc.message = (
                    f"{exc.message}\nNothing was changed. Re-run once the maintenance is over, or without --no-wait "
                    "to keep retrying until --timeout."
                )
                raise
            attempt += 1
            elapsed = clock() - start
            delay = min(policy.delay(attempt - 1), max(timeout - elapsed, 0.0))
            if delay <= 0:
                raise WaitTimeoutError(
                    f"{what} refused the {action} with 412 (maintenance in progress) for "
                    f"{format_duration(elapsed)} ({attempt} attempts); nothing was changed. Re-run later or with a "
                    "longer --timeout.",
                    last_status="busy (412)",
                    elapsed=elapsed,
                ) from exc
            detail = f"maintenance in progress; {action} not accepted yet, sending it again in {delay:.0f}s"
            _report(on_progress, what, "busy (412)", detail, elapsed, attempt, delay)
            sleep(delay)


def _report(
    callback: ProgressCallback | None,
    what: str,
    status: str,
    detail: str,
    elapsed: float,
    polls: int,
    next_in: float | None,
    *,
    done: bool = False,
) -> None:
    if callback is not None:
        callback(Progress(what, status, detail, elapsed, polls, next_in, done))


def _short_error(exc: DoPgpoolError) -> str:
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} {status}" if status else type(exc).__name__


# -- database clusters -------------------------------------------------------------------------------


class ClusterReader(Protocol):
    def get_cluster(self, cluster_id: str) -> Cluster: ...


def describe_shape(size: str, num_nodes: int, storage_size_mib: int | None = None) -> str:
    """``db-s-2vcpu-4gb x2`` (+ storage when given)."""
    text = f"{size} x{num_nodes}"
    return f"{text}, {storage_size_mib} MiB" if storage_size_mib is not None else text


def wait_until_ready(
    gateway: ClusterReader,
    cluster_id: str,
    *,
    size: str | None = None,
    num_nodes: int | None = None,
    storage_size_mib: int | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    on_progress: ProgressCallback | None = None,
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
    name = [cluster_id]

    def observe() -> Observation[Cluster]:
        cluster = gateway.get_cluster(cluster_id)
        name[0] = cluster.name or cluster_id
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

    return poll_until(
        observe,
        what=lambda: f"cluster {name[0]!r}",
        timeout=timeout,
        clock=clock,
        sleep=sleep,
        backoff=backoff,
        on_progress=on_progress,
        expectation=expectation,
    )


def wait_for_maintenance(
    gateway: ClusterReader,
    cluster_id: str,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    on_progress: ProgressCallback | None = None,
) -> Cluster:
    """Wait until maintenance started by ``install_update`` is over.

    There is no size to compare, so "over" means: ``online`` again after the cluster was seen in any other
    status, or ``online`` with ``maintenance_window.pending`` false. Right after the 204 the cluster still
    reads ``online`` with the update pending; that is not done.
    """
    seen_busy = [False]
    name = [cluster_id]

    def observe() -> Observation[Cluster]:
        cluster = gateway.get_cluster(cluster_id)
        name[0] = cluster.name or cluster_id
        if cluster.status != "online":
            seen_busy[0] = True
        done = cluster.status == "online" and (seen_busy[0] or not cluster.maintenance_pending)
        pending = "update pending" if cluster.maintenance_pending else "no update pending"
        detail = f"{describe_shape(cluster.size, cluster.num_nodes)}; {pending}"
        if cluster.status == "online" and not done:
            detail += "; maintenance not started yet"
        return Observation(cluster, cluster.status, detail, done)

    return poll_until(
        observe,
        what=lambda: f"cluster {name[0]!r}",
        timeout=timeout,
        clock=clock,
        sleep=sleep,
        backoff=backoff,
        on_progress=on_progress,
        expectation="online after the maintenance",
    )


# -- App Platform deployments ------------------------------------------------------------------------


class DeploymentReader(Protocol):
    def get_deployment(self, app_id: str, deployment_id: str) -> dict[str, Any]: ...


def wait_for_deployment(
    gateway: DeploymentReader,
    app_id: str,
    deployment_id: str,
    *,
    app_name: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    backoff: Backoff | None = None,
    on_progress: ProgressCallback | None = None,
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

    return poll_until(
        observe,
        what=what,
        timeout=timeout,
        clock=clock,
        sleep=sleep,
        backoff=backoff,
        on_progress=on_progress,
        expectation="phase ACTIVE",
    )


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
