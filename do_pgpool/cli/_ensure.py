"""``do-pgpool ensure-pool``: make the PgBouncer pool exist as asked, on one cluster or a tagged fleet; idempotent."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

import click

from ._common import (
    EXIT_PENDING,
    Duration,
    OperationFailed,
    command,
    dry_run_option,
    emit_json,
    error_text,
    open_gateway,
    output_option,
    warn,
)
from ._pool_options import pool_options
from ._secrets import secret_options

if TYPE_CHECKING:
    from .._models import Cluster
    from ..api._gateway import DigitalOcean
    from ..ops._ensure import EnsureResult
    from ..ops._fleet import ClusterOutcome, FleetResult
    from ._pool_options import PoolOptions
    from ._secrets import SecretOptions, SecretRequest


@command("ensure-pool")
@click.option("--tag", metavar="TAG", help="Fleet mode: every PostgreSQL cluster with this tag.")
@click.option("--all", "all_clusters", is_flag=True, help="Fleet mode: every PostgreSQL cluster of the account.")
@click.option(
    "--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
    help="Fleet mode: clusters worked on at once (all share one rate limiter).",
)
@click.option(
    "--max-wait", type=Duration(), default="60s", show_default=True, metavar="DURATION",
    help="Fleet mode: the longest single wait for DigitalOcean's rate limit. A longer one (an exhausted hourly "
    "quota) fails at once, saying when the limit resets; waits of 5s or more are announced on stderr.",
)
@pool_options
@secret_options
@click.option("--check", is_flag=True, help="Like --dry-run, but exit 3 when changes are pending (a CI drift gate).")
@dry_run_option
@output_option
@click.pass_context
def ensure_pool_command(
    ctx: click.Context,
    token: str | None,
    api_url: str,
    cluster: str | None,
    tag: str | None,
    all_clusters: bool,
    concurrency: int,
    max_wait: float,
    pool: PoolOptions,
    secrets: SecretOptions,
    check: bool,
    dry_run: bool,
    output: str,
) -> None:
    """Create or update a PgBouncer connection pool so that it matches the options.

    \b
    Reads the pools and the cluster (not the cluster when --cluster UUID finds the pool matching), then:
      create   the pool does not exist (POST)
      update   size or user differ: changed in place, with the full body, so nothing else is dropped
      nothing  it already matches (reads only: 1 request with --cluster UUID, 2 by name; safe in every deploy)
    A mode change needs --replace (delete + create). A size that does not fit the cluster's connection
    budget (25 per GiB of RAM - 3, shared by all pools) is refused before anything is written.
    --size 50% takes half of that budget: 11 on a 1 GiB cluster, 48 on a 4 GiB one. If another run creates
    the pool between this run's read and its create, this run updates it in place (once).

    \b
    Fleet mode (--tag TAG or --all): the same pool on every PostgreSQL cluster with the tag, --concurrency
    at a time under one client-side rate limiter (DigitalOcean allows 250 requests a minute, 5,000 an
    hour) that paces every worker by the rate-limit headers of every answer; a 429's retry-after pauses
    them all. Large fleets take about 1 minute per 125 clusters: raise --timeout to match. One cluster's
    failure does not stop the others; the run ends with a table (or, with -o json,
    one JSON object per cluster: JSON Lines) and exits 1 if any cluster failed. {cluster} in a --secret
    target is each cluster's name. A converged re-run reads the list and each cluster's pools, nothing else.

    \b
    --secret TARGET writes the pool's connection string (the password never shows, except in stdout) only
    after the pool is confirmed; each target's outcome is reported. After a create or an update the pool is
    read once more, so the string carries the credentials of the pool's user as DigitalOcean now serves them.
    A dotenv: path that cannot be a .env file is refused before anything is written (a {cluster} path once
    the cluster's name is read).
    A pool without a user (--inbound-user) has none: add --secret-user NAME to write its host, port and
    database with that database user's credentials.

    \b
    Examples:
      do-pgpool ensure-pool --size 20
      do-pgpool ensure-pool --cluster app-db --db app --size 15 --dry-run
      do-pgpool ensure-pool --size 20 --secret github:acme/web --redeploy-workflow deploy.yml --ref main
      do-pgpool ensure-pool --tag customers --size 50% --secret dotenv:/srv/{cluster}/.env
      do-pgpool ensure-pool --all --size 50% --dry-run -o json | jq -c '[.cluster.name, .action]'
    """
    fleet = _fleet_mode(ctx, cluster, tag, all_clusters)
    plan_only = dry_run or check
    with secrets.prepare(inbound_user=pool.template.inbound_user) as prepared:
        request = prepared if prepared.targets else None
        if fleet:
            fleet_run = _run_fleet(token, api_url, pool, request, tag, concurrency, max_wait, plan_only, output)
            pending = _report_fleet(fleet_run, output)
        else:
            pending = _ensure_one(token, api_url, cluster, pool, request, plan_only, output)
    if check and pending:
        raise SystemExit(EXIT_PENDING)


def _fleet_mode(ctx: click.Context, cluster: str | None, tag: str | None, all_clusters: bool) -> bool:
    if tag is not None and all_clusters:
        raise click.UsageError("--tag and --all exclude each other: --tag picks the tagged clusters, --all every one")
    if tag is not None and not tag.strip():
        raise click.UsageError("--tag must not be empty (use --all for every cluster)")
    fleet = tag is not None or all_clusters
    if fleet and cluster and ctx.get_parameter_source("cluster") == click.core.ParameterSource.COMMANDLINE:
        raise click.UsageError("--cluster picks one cluster; --tag/--all pick many. Give one or the other.")
    return fleet


# -- one cluster ---------------------------------------------------------------------------------------


def _ensure_one(
    token: str | None,
    api_url: str,
    cluster: str | None,
    pool: PoolOptions,
    request: SecretRequest | None,
    dry_run: bool,
    output: str,
) -> bool:
    """Ensure (or plan) the pool and its secrets on one cluster, render the outcome; True if anything is pending."""
    from ..ops._fleet import ensure_pool_on

    with open_gateway(token, api_url) as gateway:
        target: Cluster | str | None = cluster
        if request is not None and _has_placeholder_dotenv(request):
            # dotenv:/srv/{cluster}/.env needs the cluster's name to be checked: read it before the pool is written
            # (ensure_pool_on then reuses it, so this costs no extra request)
            from ..targets._parse import check_targets

            target = gateway.find_cluster(cluster)
            check_targets(request.targets, cluster=target.name)
        result = ensure_pool_on(gateway, target, pool.template, dry_run=dry_run, replace=pool.replace,
                                fresh_connection=request is not None)  # fmt: skip
        if request is None:
            render_ensure(result, output)
            return bool(result.changes)
        return _single_secrets(gateway, result, request, dry_run, output) or bool(result.changes)


def _has_placeholder_dotenv(request: SecretRequest) -> bool:
    from ..targets._parse import has_placeholder
    from ..targets._simple import DotenvTarget

    return any(isinstance(t, DotenvTarget) and has_placeholder(t.text) for t in request.targets)


def render_ensure(result: EnsureResult, output: str, *, err: bool = False) -> None:
    if output == "json":
        emit_json(result.as_dict())
    else:
        click.echo(_text(result), err=err)
    for message in result.warnings:
        warn(message)


def _single_secrets(
    gateway: DigitalOcean, result: EnsureResult, request: SecretRequest, dry_run: bool, output: str
) -> bool:
    """Write (or plan) the secrets of one cluster after its pool is confirmed; True if any would change."""
    from ..ops._fleet import cluster_secrets
    from ..targets._simple import StdoutTarget
    from ._secrets import needs_cluster, values_for, write_and_render

    prints_value = any(isinstance(t, StdoutTarget) for t in request.targets)
    if result.current is None:  # dry run of a create: no connection string exists yet
        outcomes = cluster_secrets(gateway, result, request.spec(), dry_run=True)
        if output == "json":
            emit_json({**result.as_dict(), "secrets": [o.as_dict() for o in outcomes]})
        else:
            render_ensure(result, output)
            for o in outcomes:
                click.echo(f"? dry run: {o.describe()}")
        return True
    cluster = result.cluster
    if cluster is None and needs_cluster(request):  # converged by uuid: the cluster was not read yet
        cluster = gateway.get_cluster(result.cluster_id)
    pool = result.current
    if output == "json":
        values = values_for(request, gateway, result.cluster_id, pool, cluster)  # may refuse before output
        for message in result.warnings:
            warn(message)
    else:
        render_ensure(result, output, err=prints_value)  # `--secret stdout > file` keeps stdout for the value
        values = values_for(request, gateway, result.cluster_id, pool, cluster)
    header = result.as_dict() if output == "json" else None
    written = write_and_render(
        request, cluster.name if cluster else result.cluster_id, values, apps=gateway, dry_run=dry_run,
        output=output, header=header,
    )
    return any(o.action != "unchanged" for o in written)


def _text(result: EnsureResult) -> str:
    cluster, pool, budget = result.cluster, result.pool, result.budget
    lines = [f"cluster {cluster.name} ({cluster.id}, {cluster.size})" if cluster else f"cluster {result.cluster_id}"]
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
    if budget is not None and budget.limit is not None:
        lines.append(
            f"budget: {budget.other_pools + pool.size} of {budget.limit} backend connections in pools "
            f"(this pool {pool.size}, other pools {budget.other_pools})"
        )
    if result.current and result.current.connection:
        lines.append(f"connection: {result.current.connection.masked_uri}")
    return "\n".join(lines)


# -- fleet ---------------------------------------------------------------------------------------------


def _report_fleet(result: FleetResult, output: str) -> bool:
    """Render the fleet's outcome; exit 1 if any cluster failed, else True if anything is pending."""
    render_fleet(result, output)
    if not result.ok:
        failed = [o.cluster.name for o in result.failed]
        raise OperationFailed(
            f"{len(failed)} of {len(result.outcomes)} clusters failed: {', '.join(failed)}. "
            "Re-run the same command to finish: converged clusters are only read."
        )
    return any(o.pending for o in result.outcomes)


def _run_fleet(
    token: str | None,
    api_url: str,
    pool: PoolOptions,
    request: SecretRequest | None,
    tag: str | None,
    concurrency: int,
    max_wait: float,
    dry_run: bool,
    output: str,
) -> FleetResult:
    from ..api._gateway import DigitalOcean, check_api_url
    from ..api._limiter import RateLimiter
    from ..api._transport import http_client
    from ..ops._fleet import ensure_fleet
    from ._common import run_deadline

    spec = request.spec() if request is not None else None
    deadline = run_deadline()  # made here: worker threads have no click context
    progress = FleetProgress(sys.stderr) if output == "text" else None
    # one limiter for the whole run: DigitalOcean counts per token
    limiter = RateLimiter(max_wait=max_wait, deadline=deadline, on_wait=_wait_notice(progress))
    with http_client(check_api_url(api_url), timeout=30.0) as http:
        def connect() -> DigitalOcean:
            return DigitalOcean(token or "", api_url=api_url, http=http, limiter=limiter, deadline=deadline)

        try:
            return ensure_fleet(connect, pool.template, tag=tag, secrets=spec, concurrency=concurrency,
                                dry_run=dry_run, replace=pool.replace, progress=progress)
        finally:
            if progress is not None:
                progress.close()


def _wait_notice(progress: FleetProgress | None) -> Callable[[float, str], None]:
    """Say on stderr, before it starts, that the run waits for the rate limit and why."""
    from .._duration import format_seconds

    def notice(seconds: float, reason: str) -> None:
        if progress is not None:
            progress.close()
        click.echo(f"waiting {format_seconds(seconds)} for DigitalOcean's rate limit: {reason}", err=True)

    return notice


class FleetProgress:
    """``clusters done/total`` on a terminal's stderr, rewritten in place; nothing when stderr is not a terminal."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.live = bool(getattr(stream, "isatty", lambda: False)())
        self._shown = False

    def __call__(self, done: int, total: int, outcome: ClusterOutcome) -> None:
        if not self.live:
            return
        failed = "" if outcome.ok else f" (last failed: {outcome.cluster.name})"
        self.stream.write(f"\r\x1b[Kclusters done {done}/{total}{failed}")
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self._shown = False


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
        rows.append((o.cluster.name, o.action, size, o.secrets_summary(), message))
    widths = [max(len(row[i]) for row in rows) for i in range(4)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + row[4]
        for row in rows
    )


def _summary(result: FleetResult) -> str:
    total = len(result.outcomes)
    counts: dict[str, int] = {}
    for o in result.outcomes:
        counts[o.action] = counts.get(o.action, 0) + 1
    actions = ", ".join(f"{n} {action}" for action, n in sorted(counts.items()))
    failed = len(result.failed)
    verdict = f"{failed} failed" if failed else "all ok"
    prefix = "dry run, nothing was changed: " if result.dry_run else ""
    return f"{prefix}{total} clusters ({actions}); {verdict}; {result.requests} API requests"
