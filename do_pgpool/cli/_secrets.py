"""``do-pgpool rewrite-secret``: write an existing pool's connection string to where the app reads it.

Also the pieces ``ensure-pool`` and ``fix`` reuse: ``secret_options`` (the options, handed to the command as one
``SecretOptions``), ``SecretOptions.prepare`` (parse and check everything before any request, giving the
library's ``SecretsSpec``) and ``render_secrets`` (print the outcomes, exit code).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import OperationFailed, command, dry_run_option, emit_json, error_text, open_gateway, output_option
from ._tls_options import TLSOptions, secret_tls_options

if TYPE_CHECKING:
    from .._pool_behaviour import PoolBehaviour
    from ..targets._base import TargetOutcome
    from ..targets._spec import SecretsSpec

R = TypeVar("R")

TARGET_HELP = (
    "Where to write the connection string (repeatable): github:OWNER/REPO, github:OWNER/REPO@ENVIRONMENT, "
    "app:APP, app:APP/COMPONENT, dotenv:PATH (a regular file, or a new one in an existing folder), stdout. "
    "{cluster} is replaced by the cluster's name."
)


_OPTIONS = (
    click.option("--secret", "targets", multiple=True, metavar="TARGET", help=TARGET_HELP),
    click.option(
        "--secret-name", default="DATABASE_URL", show_default=True, metavar="NAME", help="Name of the secret."
    ),
    click.option(
        "--direct-secret-name",
        metavar="NAME",
        help="Also write the cluster's direct string (port 25060, for migrations) under this name.",
    ),
    click.option("--private", is_flag=True, help="Write the VPC (private_connection) string instead."),
    click.option(
        "--secret-user",
        metavar="NAME",
        help="For a pool without a user (--inbound-user): write the pool's host, port and database with this "
        "database user's credentials (read from the users API). DigitalOcean gives such a pool no credentials.",
    ),
    click.option(
        "--redeploy-workflow",
        metavar="FILE",
        help="After writing github: targets, dispatch this workflow (needs `on: workflow_dispatch`), e.g. deploy.yml.",
    ),
    click.option("--ref", metavar="REF", help="Branch or tag for --redeploy-workflow."),
    click.option(
        "--url-for",
        # = _advice.URL_STACKS (tested)
        type=click.Choice(["prisma", "rails", "pgx5", "pgx4", "lib-pq"], case_sensitive=False),
        metavar="STACK",
        help="Write the pool's string shaped for this stack: its settings added as URL parameters (prisma: "
        "connection_limit=<pool size>&pgbouncer=true; rails: prepared_statements=false&advisory_locks=false; pgx5, "
        "pgx4, lib-pq). One of prisma, rails, pgx5, pgx4, lib-pq.  [default: DigitalOcean's string unchanged]",
    ),
    click.option(
        "--probe",
        "probe_file",
        type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
        metavar="FILE",
        help="With --url-for: a saved `do-pgpool probe -o json` of this pool (- reads standard input); the URL then "
        "follows what the pool was measured to do (prisma: no pgbouncer=true where prepared statements work "
        "through it; rails, pgx5, pgx4 the same).  [default: not measured, the parameters safe on any "
        "transaction pool]",
    ),
)


@dataclass(frozen=True)
class SecretOptions:
    """The secret options as given, before any check: ``prepare()`` checks them and opens the GitHub client."""

    targets: tuple[str, ...] = ()
    secret_name: str = "DATABASE_URL"
    direct_secret_name: str | None = None
    private: bool = False
    redeploy_workflow: str | None = None
    ref: str | None = None
    secret_user: str | None = None
    url_for: str | None = None
    probe_file: Path | None = None

    def prepare_if_any(self, *, inbound_user: bool = False) -> AbstractContextManager[SecretsSpec | None]:
        """``prepare()`` when there is a --secret TARGET; else only its checks, and None (a pool-only run loads
        no target code at all)."""
        if self.targets or self.secret_name != "DATABASE_URL":
            return self.prepare(inbound_user=inbound_user)  # --secret-name alone: checked (and refused) there
        self.prepare_checks(inbound_user=inbound_user)
        return nullcontext(None)

    def prepare_checks(self, *, inbound_user: bool = False) -> None:
        """Refuse options that need a --secret TARGET when none is given, and an inbound-user pool without
        --secret-user."""
        if not self.targets:
            given = (("--direct-secret-name", self.direct_secret_name), ("--private", self.private),
                     ("--redeploy-workflow", self.redeploy_workflow), ("--ref", self.ref),
                     ("--secret-user", self.secret_user), ("--url-for", self.url_for),
                     ("--probe", self.probe_file))  # fmt: skip
            extra = [flag for flag, value in given if value]
            if extra:
                verb = "applies" if len(extra) == 1 else "apply"
                raise click.UsageError(f"{', '.join(extra)} only {verb} with --secret TARGET")
        if self.probe_file is not None and self.url_for is None:
            raise click.UsageError("--probe FILE shapes the URL written for a stack: it goes with --url-for STACK "
                                   "(without it the secret is DigitalOcean's string, whatever the pool does)")
        elif inbound_user and self.secret_user is None:
            from .._exceptions import ConfigError
            from ..targets._secret_values import inbound_needs_secret_user

            raise click.UsageError(error_text(ConfigError(inbound_needs_secret_user("an --inbound-user pool"))))

    def prepare(self, *, inbound_user: bool = False) -> SecretsSpec:
        """Refuse options that need a --secret TARGET when none is given, then ``prepare_secrets``.

        ``inbound_user``: the pool asked for has no user, so its secrets need --secret-user (refused up front).
        """
        self.prepare_checks(inbound_user=inbound_user)
        behaviour = None
        if self.probe_file is not None:
            from ._advice import read_probe

            behaviour = read_probe(self.probe_file)  # ConfigError (exit 2) naming the file, before any request
        return prepare_secrets(
            self.targets, self.secret_name, self.direct_secret_name, self.private, self.redeploy_workflow, self.ref,
            self.secret_user, self.url_for, behaviour,
        )


def secret_options(f: Callable[..., R]) -> Callable[..., R]:
    """--secret, --secret-name, --direct-secret-name, --private, --secret-user, --redeploy-workflow, --ref,
    --url-for, --probe: handed to the command as one ``secrets: SecretOptions`` argument."""

    @functools.wraps(f)
    def with_secrets(
        *args: Any,
        targets: tuple[str, ...],
        secret_name: str,
        direct_secret_name: str | None,
        private: bool,
        redeploy_workflow: str | None,
        ref: str | None,
        secret_user: str | None,
        url_for: str | None,
        probe_file: Path | None,
        **kwargs: Any,
    ) -> R:
        options = SecretOptions(targets, secret_name, direct_secret_name, private, redeploy_workflow, ref, secret_user,
                                url_for, probe_file)
        return f(*args, secrets=options, **kwargs)

    decorated: Callable[..., R] = with_secrets
    for option in reversed(_OPTIONS):
        decorated = option(decorated)
    return decorated


def prepare_secrets(
    secrets: Sequence[str],
    secret_name: str,
    direct_secret_name: str | None,
    private: bool,
    redeploy_workflow: str | None,
    ref: str | None,
    secret_user: str | None = None,
    url_for: str | None = None,
    behaviour: PoolBehaviour | None = None,
) -> SecretsSpec:
    """Parse and validate; open the GitHub client if a github: target needs one (ConfigError -> exit 2)."""
    from ..targets._spec import SecretsSpec

    if not secrets and secret_name == "DATABASE_URL" and direct_secret_name is None:
        # nothing to write or check: a pool-only run pays for no target code (GitHub, NaCl, dotenv)
        return SecretsSpec((), secret_name, private=private, secret_user=secret_user)
    from ..targets._parse import check_targets, parse_target
    from ..targets._simple import GitHubTarget, Redeploy

    targets = tuple(parse_target(text) for text in secrets)
    spec = SecretsSpec(targets, secret_name, direct_secret_name, private, secret_user=secret_user,
                       url_for=url_for, behaviour=behaviour)  # checks names
    has_github = any(isinstance(t, GitHubTarget) for t in targets)
    redeploy = None
    if redeploy_workflow or ref:
        if not (redeploy_workflow and ref):
            raise click.UsageError(
                "--redeploy-workflow and --ref go together, e.g. --redeploy-workflow deploy.yml --ref main"
            )
        if not has_github:
            raise click.UsageError("--redeploy-workflow needs a github:OWNER/REPO --secret target")
        redeploy = Redeploy(redeploy_workflow, ref)
    check_targets(targets)  # a dotenv: path that is a device, FIFO, folder ... is refused before any request
    github = None
    if has_github:
        from ..api._github import open_github  # GitHub's client (and NaCl) only when a github: target needs it
        from ._common import run_deadline

        github = open_github(deadline=run_deadline())
    return replace(spec, redeploy=redeploy, github=github)


def render_secrets(outcomes: Sequence[TargetOutcome], output: str, header: dict[str, Any] | None = None) -> None:
    """Print each outcome (values only for stdout targets); exit 1 if any failed."""
    from ..targets._base import printed_values, rerun_advice

    printed = printed_values(outcomes)
    if output == "json":
        data = dict(header or {})
        data["secrets"] = [o.as_dict() for o in outcomes]
        if printed:
            data["stdout"] = printed  # the stdout target: the only place a value is shown
        emit_json(data)
    else:
        to_stderr = bool(printed)  # keep stdout clean for `--secret stdout > file`
        for o in outcomes:
            mark = "!" if not o.ok else "=" if o.action == "unchanged" else "~"
            prefix = "dry run: " if o.dry_run else ""
            click.echo(f"{mark} {prefix}{o.describe()}", err=to_stderr)
            for change in o.changes:
                click.echo(f"    {change.describe()}", err=to_stderr)
        echo_values(printed)
    failed = [o for o in outcomes if not o.ok]
    if failed:
        raise OperationFailed(f"{len(failed)} of {len(outcomes)} secret targets failed: "
                              f"{', '.join(o.target for o in failed)}; {rerun_advice(failed)}")


def echo_values(printed: dict[str, str]) -> None:
    """The stdout target's values on stdout: one value alone as is (``> file``), several as NAME=value lines."""
    if len(printed) == 1:
        click.echo(next(iter(printed.values())))
    else:
        for name, value in printed.items():
            click.echo(f"{name}={value}")


def _pool_name(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    from .._exceptions import ConfigError
    from ..ops._pool_plan import check_pool_name

    try:
        return None if value is None else check_pool_name(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


@command("rewrite-secret")
@click.option(
    "--pool", "pool_name", metavar="NAME", callback=_pool_name,
    help="Pool whose connection string to write.  [default: the only pool]",
)  # fmt: skip
@secret_options
@secret_tls_options
@dry_run_option
@output_option
def rewrite_secret_command(
    token: str | None,
    api_url: str,
    cluster: str | None,
    pool_name: str | None,
    secrets: SecretOptions,
    tls: TLSOptions,
    dry_run: bool,
    output: str,
) -> None:
    """Write an existing pool's connection string to GitHub, App Platform, a .env file or stdout.

    \b
    The value is the pool's URI exactly as DigitalOcean gives it (port 25061, the pool name as database,
    sslmode=require; with --sslmode verify-full --ca-file PATH: sslmode=verify-full&sslrootcert=PATH, the CA
    stored at PATH if missing). Each target is written independently and idempotently; a failed one makes the exit
    code 1 and a re-run finishes the job. Passwords are shown only by the stdout target.
    A .env file is replaced atomically (written in place if it is a bind mount or has hard links); runs
    writing the same .env take turns; a dotenv: path that is a device, FIFO or folder is refused up front.

    \b
    Examples:
      do-pgpool rewrite-secret --pool app-pool --secret github:acme/web@production
      do-pgpool rewrite-secret --secret app:web-shop --secret dotenv:/srv/app/.env --dry-run
      do-pgpool rewrite-secret --secret github:acme/web --redeploy-workflow deploy.yml --ref main
      do-pgpool rewrite-secret --secret stdout > database_url.txt
    """
    if not secrets.targets:
        raise click.UsageError("give at least one --secret TARGET, e.g. --secret github:OWNER/REPO")
    from ..ops._rewrite import rewrite_secret

    secret_tls = tls.secret_tls()
    with secrets.prepare() as spec, open_gateway(token, api_url) as gateway:
        if secret_tls is not None and not dry_run and tls.ca_file and not Path(tls.ca_file).is_file():
            cluster = gateway.find_cluster(cluster).id  # the CA is the cluster's: stored before any secret names it
            tls.store_ca(gateway, cluster, dry_run=dry_run)
        spec = replace(spec, tls=secret_tls)
        result = rewrite_secret(gateway, spec, cluster=cluster, pool=pool_name, dry_run=dry_run)
    header = {key: value for key, value in result.as_dict().items() if key != "secrets"}
    render_secrets(result.outcomes, output, header)
