"""``do-pgpool list-pools`` and ``do-pgpool delete-pool``: the pool lifecycle."""

from __future__ import annotations

import click

from ._common import command, dry_run_option, emit_json, open_gateway, output_option
from ._tls_options import TLSOptions, tls_options


@command("list-pools", read_only=True)
@output_option
def list_pools_command(token: str | None, api_url: str, cluster: str | None, output: str) -> None:
    """List the cluster's pools (mode, size, db, user) and its connection budget line.

    \b
    Two requests: the cluster and its pools. The budget line: the limit for the cluster's size
    (25 per GiB of RAM - 3), the slots the pools use, and what is available.

    \b
    Examples:
      do-pgpool list-pools --cluster app-db
      do-pgpool list-pools -o json | jq '.pools[].name'
    """
    from ..ops._pools import list_pools

    with open_gateway(token, api_url) as gateway:
        result = list_pools(gateway, cluster)
    if output == "json":
        emit_json(result.as_dict())
        return
    for line in result.lines():
        click.echo(line)


@command("delete-pool")
@click.argument("name")
@click.option("--secret", "targets", multiple=True, metavar="TARGET",
              help="A secret target to check before deleting (repeatable): dotenv:PATH and app:APP[/COMPONENT] are "
                   "read; github:... cannot be read (said so).")  # fmt: skip
@click.option("--secret-name", "secret_names", multiple=True, metavar="NAME",
              help="Variable to check at each --secret target (repeatable). Default: DATABASE_URL.")  # fmt: skip
@click.option("--force", is_flag=True,
              help="Delete even with live clients, a secret pointing at the pool, or clients that cannot be checked.")
@tls_options()
@dry_run_option
@output_option
def delete_pool_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    name: str,
    targets: tuple[str, ...],
    secret_names: tuple[str, ...],
    force: bool,
    tls: TLSOptions,
    dry_run: bool,
    output: str,
) -> None:
    """Delete a PgBouncer pool, refusing while clients use it or a secret still points at it.

    \b
    Idempotent: an absent pool is success (said so), nothing is sent. Refuses (exit 1, saying what
    would break) unless --force when:
      - PostgreSQL shows a busy (active or idle in transaction) server connection of the pool's
        database and user: a client is in the middle of using the pool;
      - the clients cannot be checked (the database cannot be reached);
      - a --secret target's variable points at the pool (.env: read; App Platform: plain value,
        ${db.pool.VAR} binding, or the DO_PGPOOL_<NAME>_SHA256 fingerprint of an encrypted SECRET).

    \b
    Examples:
      do-pgpool delete-pool old-pool --cluster app-db --dry-run
      do-pgpool delete-pool old-pool --secret dotenv:.env --secret app:web-app
    """
    from ..ops._pools import delete_pool
    from ..targets._base import validate_secret_name
    from ..targets._parse import parse_target

    parsed = [parse_target(t) for t in targets]
    names = tuple(validate_secret_name(n) for n in secret_names) or ("DATABASE_URL",)
    with open_gateway(token, api_url) as gateway, tls.policy(gateway, store=not dry_run) as policy:
        result = delete_pool(gateway, name, cluster=cluster, targets=parsed, secret_names=names, apps=gateway,
                             force=force, dry_run=dry_run, tls=policy)  # fmt: skip
    if output == "json":
        emit_json(result.as_dict())
        return
    plan = result.plan
    for ref in plan.references:
        click.echo(f"  secret {ref.describe()}")
    if plan.activity is not None and plan.current is not None:
        click.echo(f"  clients: {plan.activity.describe()}")
    for change in plan.changes:
        click.echo(change.describe())
    for warning in plan.warnings:
        click.echo(f"warning (--force): {warning}", err=True)
    click.echo(result.describe() + ("; nothing was changed" if result.dry_run else ""))
