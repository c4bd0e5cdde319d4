"""``temporary_access``: let this machine through a cluster's trusted sources for one run, then take it back.

Plan / apply like every operation: ``plan_access`` (pure) says whether an ``ip_addr`` rule must be added (not
for an open cluster, not when a rule already covers the address); ``apply_access`` adds it; ``revoke_access``
removes exactly that rule again (by the ``uuid`` DigitalOcean gave it). ``temporary_access`` is the context
manager doing both around the caller's work, also when the work fails or is interrupted (Ctrl-C).

PUT replaces the whole list, so every write is read-modify-write: the list is read, changed, read again right
before the PUT and, if it moved in between (someone else edited it), the change is made again on the new list,
at most ``ATTEMPTS`` times. Other rules are sent back exactly as read. The API offers no conditional PUT: a
change landing between the last read and the PUT can still be lost; the window is one request long.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import ClassVar

from .._changes import Action, Change, Plan, Result
from .._exceptions import AccessLeftError, DoPgpoolError, PlanError
from .._models import JsonDict
from .._trusted_sources import AccessVerdict, judge_access, rule_for
from ..api._poll import Observation, WaitOptions, poll_until
from ..api._ports import FirewallAPI

__all__ = [
    "AccessGrant",
    "AccessLeftError",
    "AccessPlan",
    "apply_access",
    "plan_access",
    "revoke_access",
    "temporary_access",
]

#: read-modify-write attempts when the list keeps changing under us
ATTEMPTS = 3
#: what a waiting rule is polled for at most, by default (seconds)
APPLY_TIMEOUT = 120.0


@dataclass(frozen=True)
class AccessPlan(Plan):
    cluster_id: str
    verdict: AccessVerdict
    changes: tuple[Change[JsonDict], ...]
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccessGrant(Result):
    """What ``apply_access`` did: ``rule`` is the rule added (with its ``uuid``), None when none was needed."""

    cluster_id: str
    action: Action
    dry_run: bool
    rule: JsonDict | None = None
    verb: ClassVar[str] = "add"


def plan_access(cluster_id: str, rules: list[JsonDict], address: str) -> AccessPlan:
    """Pure: the rule to add for ``address``, or nothing (open cluster, or already a trusted source)."""
    verdict = judge_access(rules, address)
    if verdict.open or verdict.covered_by is not None:
        return AccessPlan(cluster_id, verdict, ())
    if len(rules) >= 100:  # DigitalOcean's limit (the OpenAPI description: "limited to 100 rules")
        raise PlanError(f"the cluster already has {len(rules)} trusted sources, DigitalOcean's limit of 100: "
                        f"no rule for {address} can be added; add it in place of one you no longer need")
    rule = rule_for(address)
    change = Change(Action.CREATE, f"trusted source ip_addr {address}", None, rule,
                    detail="for this run only; removed afterwards")  # fmt: skip
    return AccessPlan(cluster_id, verdict, (change,))


def _rewrite(gateway: FirewallAPI, cluster_id: str, edit: Callable[[list[JsonDict]], list[JsonDict]]) -> None:
    """Read, ``edit``, re-read, PUT only if the list did not move; else again, at most ``ATTEMPTS`` times."""
    rules = gateway.list_firewall_rules(cluster_id)
    for _ in range(ATTEMPTS):
        wanted = edit(rules)
        latest = gateway.list_firewall_rules(cluster_id)
        if latest == rules:
            gateway.update_firewall_rules(cluster_id, [_sendable(r) for r in wanted])
            return
        rules = latest  # someone else changed it: make our change again on theirs
    raise PlanError(f"the trusted sources of cluster {cluster_id} changed {ATTEMPTS} times while do-pgpool "
                        "was editing them; nothing was written; re-run when they are stable")  # fmt: skip


def _sendable(rule: JsonDict) -> JsonDict:
    """A rule as read, minus ``cluster_uuid`` and ``created_at`` (read-only in the spec); ``uuid`` is kept so the
    rule stays the same rule."""
    return {k: v for k, v in rule.items() if k not in ("cluster_uuid", "created_at")}


def _ours(rule: JsonDict, added: JsonDict) -> bool:
    """The rule this run added: by its ``uuid``; before the uuid is known, the ip_addr rule with its value that
    was not there before (``known``: the uuids read before the add)."""
    if added.get("uuid"):
        return bool(rule.get("uuid") == added["uuid"])
    return (rule.get("type") == "ip_addr" and rule.get("value") == added.get("value")
            and rule.get("uuid") not in added.get("known", ()))  # fmt: skip


def apply_access(
    gateway: FirewallAPI, plan: AccessPlan, *, dry_run: bool = False, waiting: WaitOptions | None = None
) -> AccessGrant:
    """Add the planned rule (no-op plans send nothing) and wait until DigitalOcean lists it."""
    if not plan.changes or dry_run:
        return AccessGrant(plan.cluster_id, plan.action, dry_run)
    wanted = plan.changes[0].after
    assert wanted is not None
    before: list[JsonDict] = []

    def add(rules: list[JsonDict]) -> list[JsonDict]:
        before[:] = rules
        return [*rules, wanted]

    with _no_interrupt():  # an interrupted PUT could leave a rule nobody knows about
        _rewrite(gateway, plan.cluster_id, add)
    known = tuple(r.get("uuid") for r in before)

    def observe() -> Observation[JsonDict | None]:
        rules = gateway.list_firewall_rules(plan.cluster_id)
        rule = next((r for r in rules if _ours(r, {**wanted, "known": known})), None)
        return Observation(rule, "applied" if rule else "not listed yet", done=rule is not None)

    try:
        rule = poll_until(observe, what=f"trusted source ip_addr {wanted['value']}",
                          waiting=waiting or WaitOptions(timeout=APPLY_TIMEOUT),
                          expectation="listed by DigitalOcean")  # fmt: skip
    except BaseException:  # not seen in time, or Ctrl-C: take back the rule sent, found by its value
        with _no_interrupt():
            revoke_access(gateway, AccessGrant(plan.cluster_id, Action.CREATE, False, {**wanted, "known": known}))
        raise
    assert rule is not None
    return AccessGrant(plan.cluster_id, Action.CREATE, False, rule)


def _how_to_remove(cluster_id: str, rule: JsonDict) -> str:
    uuid = rule.get("uuid") or "<its uuid: doctl databases firewalls list " + cluster_id + ">"
    return (f"trusted source ip_addr {rule.get('value')} (uuid {uuid}) added by this run is still on cluster "
            f"{cluster_id}; remove it with `doctl databases firewalls remove {cluster_id} --uuid {uuid}`, or PUT "
            f"/v2/databases/{cluster_id}/firewall with every other rule, or in the control panel (Trusted sources)")


def revoke_access(gateway: FirewallAPI, grant: AccessGrant) -> None:
    """Remove exactly the rule ``grant`` added, keeping every other rule as it is now.

    Refuses (``AccessLeftError``) rather than sending an empty list: that would open the cluster to everyone.
    """
    added = grant.rule
    if added is None:
        return

    def remove(rules: list[JsonDict]) -> list[JsonDict]:
        kept = [r for r in rules if not _ours(r, added)]
        if not kept:
            raise AccessLeftError(_how_to_remove(grant.cluster_id, added) + "; not removed by do-pgpool because "
                                  "it is the only rule left and an empty list opens the cluster to any address",
                                  cluster_id=grant.cluster_id, rule=added)  # fmt: skip
        return kept

    try:
        _rewrite(gateway, grant.cluster_id, remove)
    except AccessLeftError:
        raise
    except (DoPgpoolError, OSError) as exc:
        raise AccessLeftError(f"{_how_to_remove(grant.cluster_id, added)} ({exc})",
                              cluster_id=grant.cluster_id, rule=added) from exc  # fmt: skip


#: the signals that wait for a rule's write: Ctrl-C, and a CI runner cancelling the job (SIGTERM, SIGHUP)
_DEFERRED = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


@contextmanager
def _no_interrupt() -> Iterator[None]:
    """Ctrl-C (or SIGTERM, SIGHUP) waits while the rule is being written (a bounded API call), so the write is not
    cut in half; the first one received is acted on afterwards, as it would have been."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    interrupted: list[int] = []
    previous = {sig: signal.signal(sig, lambda sig, frame: interrupted.append(sig)) for sig in _DEFERRED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if interrupted and interrupted[0] == signal.SIGINT:
        raise KeyboardInterrupt
    if interrupted:
        signal.raise_signal(interrupted[0])


@contextmanager
def temporary_access(
    gateway: FirewallAPI, cluster_id: str, address: str, *, waiting: WaitOptions | None = None,
    remover: Callable[[], AbstractContextManager[FirewallAPI]] | None = None,
) -> Iterator[AccessGrant]:
    """Let ``address`` through ``cluster_id``'s trusted sources inside the ``with`` block; remove exactly the rule
    added afterwards, also on an exception or Ctrl-C. An open cluster, or one that already trusts ``address``,
    is left alone (the grant's ``rule`` is None).

    ``remover``: opens the client that removes the rule, when the block ends (default: ``gateway``). A block that
    may outlast ``gateway``'s time limit (``migrate``'s command) passes one with a time limit of its own."""
    plan = plan_access(cluster_id, gateway.list_firewall_rules(cluster_id), address)
    grant = apply_access(gateway, plan, waiting=waiting)
    try:
        yield grant
    finally:
        with _no_interrupt():
            if remover is None or grant.rule is None:
                revoke_access(gateway, grant)
            else:
                try:
                    with remover() as fresh:
                        revoke_access(fresh, grant)
                except AccessLeftError:
                    raise
                except (DoPgpoolError, OSError) as exc:  # the client itself could not be opened
                    raise AccessLeftError(f"{_how_to_remove(cluster_id, grant.rule)} ({exc})", cluster_id=cluster_id,
                                          rule=grant.rule) from exc  # fmt: skip
