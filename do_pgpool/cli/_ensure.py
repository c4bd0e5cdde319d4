"""``do-pgpool ensure-pool``: make the PgBouncer pool exist as asked, on one cluster or a tagged fleet; idempotent."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import replace
from typing import IO, TYPE_CHECKING

import click

from ._common import (
    EXIT_PENDING,
    Duration,
    OperationFailed,
    command,
    dry_run_option,
    open_gateway,
    output_option,
    warn,
)
from ._pool_options import pool_options
from ._render import render_ensure, render_fleet
from ._secrets import secret_options
from ._tls_options import TLSOptions, secret_tls_options

if TYPE_CHECKING:
    from .._models import Cluster
    from ..api._gateway import DigitalOcean
    from ..ops._fleet import ClusterOutcome, FleetResult
    from ..ops._pool import EnsureResult
    from ..targets._spec import SecretsSpec
    from ._pool_options import PoolOptions
    from ._secrets import SecretOptions


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
@secret_tls_options
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
    tls: TLSOptions,
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
    secret_tls = tls.secret_tls()
    if secret_tls is not None and fleet:
        raise click.UsageError("--sslmode verify-full/verify-ca on secrets takes one cluster (each has its own CA)")
    with secrets.prepare_if_any(inbound_user=pool.request.inbound_user) as prepared:
        request = replace(prepared, tls=secret_tls) if prepared is not None and prepared.targets else None
        if fleet:
            fleet_run = _run_fleet(token, api_url, pool, request, tag, concurrency, max_wait, plan_only, output)
            pending = _report_fleet(fleet_run, output)
        else:
            pending = _ensure_one(token, api_url, cluster, pool, request, plan_only, output, tls)
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
    request: SecretsSpec | None,
    dry_run: bool,
    output: str,
    tls: TLSOptions | None = None,
) -> bool:
    """Ensure (or plan) the pool and its secrets on one cluster, render the outcome; True if anything is pending."""
    from dataclasses import replace

    from ..ops._pool import apply_pool, prepare_pool

    with open_gateway(token, api_url) as gateway:
        target: Cluster | str | None = cluster
        if request is not None and (_has_placeholder_dotenv(request) or request.secret_user is not None):
            # dotenv:/srv/{cluster}/.env needs the cluster's name to be checked, --secret-user its users: read it
            # before the pool is written (prepare_pool then reuses it, so this costs no extra request)
            from ..targets._parse import check_targets

            target = gateway.find_cluster(cluster)
            check_targets(request.targets, cluster=target.name)
            request.check_user(gateway, target)
        start = gateway.request_count  # the cluster read for a {cluster} path above is not the pool's
        plan = prepare_pool(gateway, pool.request, cluster=target, replace=pool.replace)
        result = apply_pool(gateway, plan, dry_run=dry_run, fresh_connection=request is not None)
        result = replace(result, requests=gateway.request_count - start)
        if request is None:
            render_ensure(result, output)
            return bool(result.changes)
        if tls is not None:  # request is not None here
            tls.store_ca(gateway, result.cluster_id, dry_run=dry_run)  # before any secret names it
        return _single_secrets(gateway, result, request, dry_run, output) or bool(result.changes)


def _has_placeholder_dotenv(request: SecretsSpec) -> bool:
    from ..targets._parse import has_placeholder
    from ..targets._simple import DotenvTarget

    return any(isinstance(t, DotenvTarget) and has_placeholder(t.text) for t in request.targets)


def _single_secrets(
    gateway: DigitalOcean, result: EnsureResult, request: SecretsSpec, dry_run: bool, output: str
) -> bool:
    """Write (or plan) the secrets of one cluster after its pool is confirmed; True if any would change."""
    from ..targets._simple import StdoutTarget
    from ..targets._write import write_pool_secrets, write_secrets
    from ._secrets import render_secrets

    prints_value = any(isinstance(t, StdoutTarget) for t in request.targets)
    if result.current is None:  # dry run of a create: no connection string exists yet
        planned = write_pool_secrets(request, gateway, result.cluster_id, None, cluster=result.cluster, dry_run=True)
        render_ensure(result, output, secrets=planned)
        return True
    cluster = result.cluster
    if cluster is None and request.needs_cluster:  # converged by uuid: the cluster was not read yet
        cluster = gateway.get_cluster(result.cluster_id)
    pool = result.current
    if output == "json":
        values = request.values(gateway, result.cluster_id, pool, cluster)  # may refuse before output
        for message in result.warnings:
            warn(message)
    else:
        render_ensure(result, output, err=prints_value)  # `--secret stdout > file` keeps stdout for the value
        values = request.values(gateway, result.cluster_id, pool, cluster)
    written = write_secrets(request, values, dry_run=dry_run, apps=gateway,
                            cluster=cluster.name if cluster else result.cluster_id)  # fmt: skip
    render_secrets(written, output, result.as_dict() if output == "json" else None)
    return any(o.action != "unchanged" for o in written)


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
    request: SecretsSpec | None,
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

    deadline = run_deadline()  # made here: worker threads have no click context
    progress = FleetProgress(sys.stderr) if output == "text" else None
    # one limiter for the whole run: DigitalOcean counts per token
    limiter = RateLimiter(max_wait=max_wait, deadline=deadline, on_wait=_wait_notice(progress))
    with http_client(check_api_url(api_url), timeout=30.0) as http:
        def connect() -> DigitalOcean:
            return DigitalOcean(token or "", api_url=api_url, http=http, limiter=limiter, deadline=deadline)

        try:
            return ensure_fleet(connect, pool.request, tag=tag, secrets=request, concurrency=concurrency,
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


