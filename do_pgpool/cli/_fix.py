"""``do-pgpool fix``: status, free idle sessions, pool, secrets, verify, advice - in one idempotent run."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import click

from ._access import access_options, reachable
from ._common import (
    Duration,
    OperationFailed,
    command,
    dry_run_option,
    emit_json,
    error_text,
    open_gateway,
    output_option,
)
from ._pool_options import pool_options
from ._sandbox import sandbox_hint
from ._secrets import echo_values, secret_options
from ._tls_options import TLSOptions, tls_options

if TYPE_CHECKING:
    from ..ops._fix import FixResult
    from ._pool_options import PoolOptions
    from ._secrets import SecretOptions

_MARK = {"done": "+", "skipped": "-", "planned": "?", "failed": "!"}


@command("fix")
@pool_options
@secret_options
@click.option("--idle-for", type=Duration(min=0), default=300, show_default=True, metavar="SECONDS",
              help="When saturated, terminate client sessions idle at least this long.")  # fmt: skip
@click.option("--verify-timeout", type=Duration(min=0.1), default=10, show_default=True, metavar="SECONDS",
              help="How long the SELECT 1 through the pool may take.")  # fmt: skip
@click.option("--config-profile", type=click.Choice(["web"]), metavar="NAME",
              help="Opt-in step: also ensure these server settings (as ensure-config --profile).")  # fmt: skip
@click.option("--config-set", "config_pairs", multiple=True, metavar="KEY=VALUE",
              help="Opt-in step: also ensure this server setting (as ensure-config --set; repeatable).")  # fmt: skip
@tls_options(secret=True)
@dry_run_option
@access_options
@output_option
def fix_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    pool: PoolOptions,
    secrets: SecretOptions,
    idle_for: float,
    verify_timeout: float,
    config_profile: str | None,
    config_pairs: tuple[str, ...],
    tls: TLSOptions,
    dry_run: bool,
    my_ip: str | None,
    temporary_access: bool,
    output: str,
) -> None:
    """Take a cluster out of connection exhaustion in one run, and keep it out.

    \b
    Steps, each reported as done, skipped (with the reason), planned (--dry-run) or failed (with the
    state it left):
      1 status          budget, pools, live usage from pg_stat_activity, verdict
      2 terminate-idle  only when saturated: sessions idle for --idle-for seconds or more. If PostgreSQL
                        refuses even this tool's connection, the options are listed (restart the app,
                        cluster maintenance, resize) and the run goes on: the pool needs no slot
      3 ensure-pool     create or update the PgBouncer pool (like ensure-pool)
        ensure-config   only with --config-profile/--config-set: the server settings (like ensure-config;
                        checked before any request; one PATCH with only the changed keys, none if set)
      4 secrets         write the pool's connection string to each --secret target, once the pool exists
      5 verify          SELECT 1 through the pool's connection string (bounded by --verify-timeout)
      6 advice          the settings an application needs behind a transaction pool
    Running it again changes nothing. --dry-run reads and changes nothing (no terminate, no pool or secret
    write, no verification). Exit 1 if any step failed. Status and verify connect with sslmode=verify-full
    and the cluster's CA (see --sslmode, --ca-file); the secrets stay DigitalOcean's URIs unless --sslmode
    verify-full --ca-file PATH is given.

    \b
    --size 50% takes half of the cluster's connection budget (25 per GiB of RAM - 3): 11 on a 1 GiB cluster.

    \b
    Examples:
      do-pgpool fix --cluster app-db --size 20 --secret dotenv:/srv/app/.env
      do-pgpool fix --cluster app-db --size 50% --secret app:web-shop
      do-pgpool fix --cluster app-db --size 20 --secret github:acme/web@production --dry-run
      do-pgpool fix --cluster app-db --size 20 -o json | jq '.steps[] | [.name, .outcome]'
    """
    from ..ops._config import parse_settings
    from ..ops._fix import FixOptions, fix

    config = parse_settings(config_pairs, profile=config_profile) if config_profile or config_pairs else {}
    secret_tls = tls.secret_tls()
    with (
        secrets.prepare(inbound_user=pool.request.inbound_user) as spec,
        open_gateway(token, api_url) as gateway,
        reachable(gateway, cluster, my_ip, temporary_access, dry_run=dry_run, refuse=False) as found,
        tls.policy(gateway, store=not dry_run) as policy,
    ):
        options = FixOptions(pool.request, replace(spec, tls=secret_tls), idle_for=idle_for, replace=pool.replace,
                             verify_timeout=verify_timeout, dry_run=dry_run, config=config)  # fmt: skip
        result = fix(gateway, options, cluster=found or cluster, tls=policy)
    render_fix(result, output)
    hint = sandbox_hint(api_url) if result.status is not None and result.status.unreachable else None
    if hint:
        click.echo(hint, err=True)
    if not result.ok:
        failed = "; ".join(f"{s.name}: {s.state or s.summary}" for s in result.failed)
        raise OperationFailed(f"{len(result.failed)} of {len(result.steps)} steps failed. {failed}")


def render_fix(result: FixResult, output: str) -> None:
    """Text: one block per step (stderr when a stdout target prints a value); JSON: one object."""
    printed = result.printed
    if output == "json":
        data = result.as_dict()
        if printed:
            data["stdout"] = printed  # the stdout target: the only place a value is shown
        emit_json(data)
        return
    from .._advice import render_pointer

    err = bool(printed)  # `--secret stdout > file` keeps stdout for the value
    c = result.cluster
    head = f"fix cluster {c.name} ({c.id})" if c else "fix"
    click.echo(head + (" - dry run, nothing will be changed" if result.dry_run else ""), err=err)
    total = len(result.steps)
    for i, step in enumerate(result.steps, 1):
        click.echo(f"{_MARK[step.outcome]} [{i}/{total}] {step.describe()}", err=err)
        for line in step.details:
            click.echo(f"      {line}", err=err)
        if step.error is not None:
            for line in error_text(step.error).splitlines():
                click.echo(f"      error: {line}", err=err)
        if step.state:
            click.echo(f"      state left: {step.state}", err=err)
    click.echo("", err=err)
    click.echo(render_pointer(pool_env=result.secret_name), err=err)
    click.echo("", err=err)
    click.echo(_summary(result), err=err)
    echo_values(printed)


def _summary(result: FixResult) -> str:
    counts: dict[str, int] = {}
    for s in result.steps:
        counts[s.outcome] = counts.get(s.outcome, 0) + 1
    parts = ", ".join(f"{n} {outcome}" for outcome, n in counts.items())
    if result.dry_run:
        return f"dry run: {parts}; nothing was changed"
    verdict = "changed something" if result.changed else "nothing needed changing"
    return f"{'ok' if result.ok else 'FAILED'}: {parts}; {verdict}"
