"""``do-pgpool ensure-config``: the server-side settings that keep a cluster out of connection exhaustion."""

from __future__ import annotations

import click

from ._common import EXIT_PENDING, command, dry_run_option, open_gateway, output_option
from ._render import render_config


@command("ensure-config")
@click.option(
    "--profile", type=click.Choice(["web"]), metavar="NAME",
    help="Start from a named profile. web: idle_in_transaction_session_timeout=60000 (ms; a web request never "
    "keeps a transaction open a minute, one that does leaked it and holds a connection), "
    "pgbouncer.server_idle_timeout=300 (s; idle server connections go back to the budget after 5 minutes, "
    "not PgBouncer's 10), pgbouncer.server_lifetime=3600 (s; recycle server connections hourly, PgBouncer's "
    "default made explicit), pgbouncer.min_pool_size=0 (keep no idle connections pinned).",
)
@click.option(
    "--set", "pairs", multiple=True, metavar="KEY=VALUE",
    help="Set one key (repeatable; over --profile): idle_in_transaction_session_timeout (ms, 0-604800000), "
    "pgbouncer.server_idle_timeout (s, 0-86400), pgbouncer.server_lifetime (s, 60-86400), "
    "pgbouncer.min_pool_size (0-10000), pgbouncer.server_reset_query_always (true/false).",
)
@click.option("--check", is_flag=True, help="Like --dry-run, but exit 3 when changes are pending (a CI drift gate).")
@dry_run_option
@output_option
def ensure_config_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    profile: str | None,
    pairs: tuple[str, ...],
    check: bool,
    dry_run: bool,
    output: str,
) -> None:
    """Set the cluster's PostgreSQL/PgBouncer settings that prevent connection exhaustion.

    \b
    Every value is checked against DigitalOcean's types and ranges before anything is sent (exit 2).
    Then reads the cluster and its config (GET .../config) and shows each key: = already set, ~ to change.
      nothing  every key already matches: reads only, no write (safe in every deploy)
      change   ONE PATCH .../config carrying only the keys that differ
    max_connections is shown when DigitalOcean returns it, never set (changing it restarts the cluster).

    \b
    Examples:
      do-pgpool ensure-config --profile web --dry-run
      do-pgpool ensure-config --profile web --set pgbouncer.server_idle_timeout=120
      do-pgpool ensure-config --set idle_in_transaction_session_timeout=30000 --check -o json
    """
    from ..ops._config import apply_config, parse_settings, prepare_config

    if profile is None and not pairs:
        raise click.UsageError("give --profile web and/or --set KEY=VALUE")
    desired = parse_settings(pairs, profile=profile)
    with open_gateway(token, api_url) as gateway:
        plan = prepare_config(gateway, desired, cluster=cluster)
        result = apply_config(gateway, plan, dry_run=dry_run or check)
        from dataclasses import replace

        result = replace(result, requests=gateway.request_count)
    render_config(result, output)
    if check and plan:
        raise SystemExit(EXIT_PENDING)
