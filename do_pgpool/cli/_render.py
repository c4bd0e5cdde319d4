"""Rendering, in one place: every command's plan and result as text (for people) or JSON (for machines).

Commands do plan -> render -> confirm -> apply; what they show comes from here. JSON objects are the results'
``as_dict()`` (their documented fields); words such as ``created`` or ``would resize`` come from the result's
``Action`` (``outcome``), never from parsing a string.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from .._changes import Action
from ._common import emit_json, error_text, warn

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ..ops._config import ConfigResult
    from ..ops._fleet import FleetResult
    from ..ops._pool import EnsureResult
    from ..ops._resize import ResizeResult
    from ..ops._resize_plan import ResizePlan
    from ..ops._restart import RestartResult
    from ..targets._base import TargetOutcome

__all__ = [
    "fleet_table",
    "render_ensure",
    "render_fleet",
    "render_resize",
    "render_resize_plan",
    "render_restart",
    "render_restart_plan",
]


# -- ensure-pool ---------------------------------------------------------------------------------------


def render_ensure(
    result: EnsureResult, output: str, *, err: bool = False, secrets: Sequence[TargetOutcome] | None = None
) -> None:
    """The pool's result; ``secrets``: the planned secrets of a dry run that would create the pool."""
    if output == "json":
        emit_json({**result.as_dict(), "secrets": [o.as_dict() for o in secrets]} if secrets is not None
                  else result.as_dict())  # fmt: skip
    else:
        click.echo(_text(result), err=err)
        for o in secrets or ():
            click.echo(f"? dry run: {o.describe()}")
    for message in result.warnings:
        warn(message)


def _text(result: EnsureResult) -> str:
    cluster, pool, budget = result.cluster, result.pool, result.budget
    lines = [f"cluster {cluster.name} ({cluster.id}, {cluster.size})" if cluster else f"cluster {result.cluster_id}"]
    lines += [f"  {change.describe()}" for change in result.changes]
    if result.action is Action.NONE:
        lines.append(f"pool {pool.name!r} is up to date: {pool.mode}, size {pool.size}, db {pool.db}, "
                     f"user {pool.user or '(inbound user)'}; nothing to do")
    elif result.dry_run:
        lines.append(f"dry run: {result.outcome} pool {pool.name!r}; nothing was changed")
    else:
        lines.append(f"{result.outcome} pool {pool.name!r}")
    if result.note:
        lines.append(f"note: {result.note}")
    if budget is not None and budget.limit is not None:
        lines.append(
            f"budget: {budget.other_pools + pool.size} of {budget.limit} backend connections in pools "
            f"(this pool {pool.size}, other pools {budget.other_pools})"
        )
    if result.current and result.current.connection:
        lines.append(f"connection: {result.current.connection.masked_uri}")
    return "\n".join(lines)


# -- fleet ---------------------------------------------------------------------------------------------


def render_fleet(result: FleetResult, output: str) -> None:
    printed = [(o.cluster.name, name, value) for o in result.outcomes for s in o.secrets
               for name, value in s.output.items()]
    if output == "json":
        for outcome in result.outcomes:
            data = outcome.as_dict()
            values = {name: value for s in outcome.secrets for name, value in s.output.items()}
            if values:
                data["stdout"] = values  # the stdout target: the only place a value is shown
            click.echo(json.dumps(data, default=str))
    else:
        to_stderr = bool(printed)  # `--secret stdout > file`: stdout carries only the values
        if result.dry_run:
            for line in _plan_lines(result):
                click.echo(line, err=to_stderr)
        click.echo(fleet_table(result), err=to_stderr)
        click.echo(_summary(result), err=to_stderr)
        for cluster_name, name, value in printed:
            click.echo(f"{cluster_name}\t{name}={value}")
    for cluster in result.skipped:
        warn(f"skipped {cluster.name}: it runs {cluster.engine or 'an unknown engine'}, not PostgreSQL")
    for outcome in result.outcomes:
        if outcome.result is not None:
            for message in outcome.result.warnings:
                warn(f"{outcome.cluster.name}: {message}")


def _plan_lines(result: FleetResult) -> list[str]:
    lines = []
    for o in result.outcomes:
        if not o.pending and o.ok:
            continue
        lines.append(f"cluster {o.cluster.name} ({o.cluster.size})")
        if o.result is not None:
            lines += [f"  {change.describe()}" for change in o.result.changes]
        lines += [f"  {'!' if not s.ok else '?'} {s.describe()}" for s in o.secrets if s.action != "unchanged"]
    return lines


def fleet_table(result: FleetResult) -> str:
    rows = [("CLUSTER", "ACTION", "POOL SIZE", "SECRETS", "ERROR")]
    for o in result.outcomes:
        err = o.first_error
        message = error_text(err).splitlines()[0] if err is not None else "-"
        size = str(o.pool_size) if o.pool_size is not None else "-"
        rows.append((o.cluster.name, o.outcome, size, o.secrets_summary(), message))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    )


def _summary(result: FleetResult) -> str:
    total = len(result.outcomes)
    counts: dict[str, int] = {}
    for o in result.outcomes:
        counts[o.outcome] = counts.get(o.outcome, 0) + 1
    actions = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    failed = len(result.failed)
    verdict = f"{failed} failed" if failed else "all ok"
    prefix = "dry run, nothing was changed: " if result.dry_run else ""
    return f"{prefix}{total} clusters ({actions}); {verdict}; {result.requests} API requests"


# -- resize --------------------------------------------------------------------------------------------


def render_resize_plan(plan: ResizePlan, output: str) -> None:
    if output != "json":
        click.echo(_plan_text(plan))
    for message in plan.warnings:
        warn(message)


def _plan_text(plan: ResizePlan) -> str:
    c = plan.cluster
    storage_after = plan.storage_size_mib or c.storage_size_mib
    lines = [
        f"cluster {c.name} ({c.id}, {c.region or 'unknown region'}) is {c.status}",
        f"  current: {_shape(c.size, c.num_nodes, c.storage_size_mib)}, budget {_budget(plan.budget_before)}",
        f"  new:     {_shape(plan.size, plan.num_nodes, storage_after)}, budget {_budget(plan.budget_after)}",
    ]
    if plan.reason:
        lines.append(f"  why:     {plan.reason}")
    lines += [f"  {change.describe()}" for change in plan.changes]
    return "\n".join(lines)


def _shape(size: str, nodes: int, storage_mib: int | None) -> str:
    return f"{size} x{nodes}" + (f", {storage_mib} MiB" if storage_mib else "")


def _budget(limit: int | None) -> str:
    return "unknown (slug does not say the RAM)" if limit is None else f"{limit} connections"


def render_resize(result: ResizeResult, output: str) -> None:
    if output == "json":
        emit_json(result.as_dict())
        return
    c = result.cluster
    shape = f"{c.size} x{c.num_nodes}"
    if result.dry_run:
        click.echo("dry run: nothing was changed")
    elif result.action is Action.NONE:
        click.echo(f"cluster {c.name} already is {shape}; nothing to do")
    elif not result.waited:
        click.echo(
            f"resize of {c.name} to {result.plan.size} x{result.plan.num_nodes} accepted; not waiting "
            f"(check with: do-pgpool resize --cluster {c.name} ... again, or the control panel)"
        )
    else:
        click.echo(
            f"resized: cluster {c.name} is {c.status} with {shape}, budget {_budget(result.plan.budget_after)} "
            f"(took {_took(result.elapsed)}, {result.requests} API requests)"
        )
    if result.note and result.waited:
        click.echo(f"note: {result.note}")


def _took(seconds: float) -> str:
    from ..api._poll import format_duration

    return format_duration(seconds)


# -- restart -------------------------------------------------------------------------------------------


def render_restart_plan(description: str, output: str) -> None:
    if output != "json":
        click.echo(description)


def render_restart(result: RestartResult, output: str) -> None:
    if output == "json":
        emit_json(result.as_dict())
        return
    if result.action is Action.NONE:
        click.echo(f"cluster {result.name}: no maintenance is pending, so there is nothing to start; nothing changed")
    elif result.dry_run:
        click.echo("dry run: nothing was changed")
    elif not result.waited:
        what = f"deployment {result.deployment_id}" if result.target == "app" else "maintenance"
        click.echo(f"{result.target} {result.name}: {what} started; not waiting (--no-wait)")
    elif result.target == "app":
        click.echo(
            f"restarted app {result.name}: deployment {result.deployment_id} is {result.phase} "
            f"(took {_took(result.elapsed)})"
        )
    else:
        state = result.cluster
        status = state.status if state else "online"
        click.echo(f"cluster {result.name} is {status} again after the maintenance (took {_took(result.elapsed)})")


# -- ensure-config ---------------------------------------------------------------------------------


def render_config(result: ConfigResult, output: str) -> None:
    """The settings (current -> desired), the outcome and the request count; -o json: one object."""
    if output == "json":
        emit_json(result.as_dict())
        return
    plan = result.plan
    click.echo(f"cluster {plan.cluster.name} ({plan.cluster.id})")
    for key, value in plan.desired.items():
        current = plan.current.get(key, "default")
        mark = "=" if current == value else "~"
        click.echo(f"  {mark} {key}: {current}" + ("" if current == value else f" -> {value}"))
    if plan.max_connections is not None:
        click.echo(f"  max_connections: {plan.max_connections} (read-only here)")
    click.echo(f"config {result.outcome} ({result.requests} requests)")
