"""``do-pgpool ensure-pool``: make the PgBouncer pool exist as asked; idempotent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._common import (
    EXIT_CODES_HELP,
    EXIT_PENDING,
    api_options,
    cluster_option,
    dry_run_option,
    emit_json,
    open_gateway,
    output_option,
    warn,
)

if TYPE_CHECKING:
    from .._ensure import EnsureResult

MODES = ["transaction", "session", "statement"]


@click.command("ensure-pool", epilog=EXIT_CODES_HELP)
@api_options
@cluster_option
@click.option("--size", type=click.IntRange(min=1), required=True, help="Server connections the pool may hold.")
@click.option("--name", metavar="NAME", help="Pool name (3-60 characters).  [default: <db>-pool]")
@click.option("--mode", type=click.Choice(MODES), help="PgBouncer pool mode.  [default: transaction; kept on update]")
@click.option("--db", metavar="DB", help="Database the pool serves.  [default: defaultdb; kept on update]")
@click.option("--user", metavar="USER", help="User the pool connects as.  [default: doadmin; kept on update]")
@click.option("--inbound-user", is_flag=True, help="No pool user: clients' own credentials pass through.")
@click.option("--replace", is_flag=True, help="Allow a mode change by delete + create (drops live connections).")
@click.option("--check", is_flag=True, help="Like --dry-run, but exit 3 when changes are pending (a CI drift gate).")
@dry_run_option
@output_option
def ensure_pool_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    size: int,
    name: str | None,
    mode: str | None,
    db: str | None,
    user: str | None,
    inbound_user: bool,
    replace: bool,
    check: bool,
    dry_run: bool,
    output: str,
) -> None:
    """Create or update a PgBouncer connection pool so that it matches the options.

    \b
    Reads the cluster and its pools, then does exactly one of:
      create   the pool does not exist (POST)
      update   size or user differ: changed in place, with the full body, so nothing else is dropped
      nothing  it already matches (two reads, no write: safe in every deploy)
    A mode change needs --replace (delete + create). A size that does not fit the cluster's connection
    budget (25 per GiB of RAM - 3, shared by all pools) is refused before anything is written.

    \b
    Examples:
      do-pgpool ensure-pool --size 20
      do-pgpool ensure-pool --cluster app-db --db app --size 15 --dry-run
      do-pgpool ensure-pool --size 20 -o json | jq .action
    """
    from .._ensure import ensure_pool
    from .._plan import PoolRequest

    request = PoolRequest(size=size, name=name, mode=mode, db=db, user=user, inbound_user=inbound_user)
    with open_gateway(token, api_url) as gateway:
        result = ensure_pool(gateway, request, cluster=cluster, dry_run=dry_run or check, replace=replace)
    render_ensure(result, output)
    if check and result.changes:
        raise SystemExit(EXIT_PENDING)


def render_ensure(result: EnsureResult, output: str) -> None:
    if output == "json":
        emit_json(result.as_dict())
    else:
        click.echo(_text(result))
    for message in result.warnings:
        warn(message)


def _text(result: EnsureResult) -> str:
    cluster, pool, budget = result.cluster, result.pool, result.budget
    lines = [f"cluster {cluster.name} ({cluster.id}, {cluster.size})"]
    lines += [f"  {change.describe()}" for change in result.changes]
    if result.action == "unchanged":
        lines.append(f"pool {pool.name!r} is up to date: {pool.mode}, size {pool.size}, db {pool.db}, "
                     f"user {pool.user or '(inbound user)'}; nothing to do")
    elif result.action.startswith("would"):
        lines.append(f"dry run: would {result.action[6:]} pool {pool.name!r}; nothing was changed")
    else:
        lines.append(f"{result.action} pool {pool.name!r}")
    if result.note:
        lines.append(f"note: {result.note}")
    if budget.limit is not None:
        lines.append(
            f"budget: {budget.other_pools + pool.size} of {budget.limit} backend connections in pools "
            f"(this pool {pool.size}, other pools {budget.other_pools})"
        )
    if result.current and result.current.connection:
        lines.append(f"connection: {result.current.connection.masked_uri}")
    return "\n".join(lines)
