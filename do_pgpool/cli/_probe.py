"""``do-pgpool probe``: measure what the pool does to session features (prepared statements, SET, locks, ...)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ._access import access_options, reachable
from ._common import command, emit_json, open_gateway, output_option, run_deadline
from ._sandbox import hint_sandbox_when_unreachable
from ._tls_options import TLSOptions, tls_options

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..postgres._connect import PgConnection


@command("probe", read_only=True)
@click.option("--pool", metavar="NAME", help="The pool to probe.  [default: the cluster's only pool]")
@click.option("--direct/--no-direct", default=True, show_default=True,
              help="Also probe the cluster's direct connection, for contrast (everything works there).")  # fmt: skip
@click.option("--url", "pool_url", metavar="URL", envvar="DO_PGPOOL_PROBE_URL", show_envvar=True,
              help="Probe this connection string instead of a cluster's pool (any PgBouncer or server; no token, no "
                   "request); prefer the environment variable (flags show up in `ps`).")  # fmt: skip
@click.option("--direct-url", metavar="URL", envvar="DO_PGPOOL_PROBE_DIRECT_URL", show_envvar=True,
              help="With --url: the server's own connection string, probed for contrast.")  # fmt: skip
@tls_options()
@access_options
@output_option
def probe_command(
    token: str | None, api_url: str, cluster: str | None, pool: str | None, direct: bool, pool_url: str | None,
    direct_url: str | None, tls: TLSOptions, my_ip: str | None, temporary_access: bool, output: str,
) -> None:
    """Measure what the pool does to session features: works, breaks, or leaks into another client.

    \b
    Two clients connect through the pool (and, for contrast, the cluster's direct connection) and try
    what a transaction pool may break: protocol-level prepared statements reused across transactions and
    clients (psycopg, asyncpg, pgx, JDBC), SQL PREPARE, SET and search_path, session advisory locks,
    LISTEN/NOTIFY, temporary tables, WITH HOLD cursors. "leaks" means client B saw client A's state:
    wrong results, not only errors. Harmless on a production database: only temporary objects with
    random names (do_pgpool_probe_...), removed afterwards; advisory lock keys in the two-key form
    (1685024871, random). Bounded by --timeout; a feature that cannot be measured is "unknown" with
    the reason. The connections use sslmode=verify-full with the cluster's CA (see --sslmode, --ca-file).
    -o json holds the measurements that `advice` reads.

    \b
    Examples:
      do-pgpool probe --cluster app-db --pool web-pool
      do-pgpool probe --pool web-pool -o json > probe.json      # then: do-pgpool advice --probe probe.json
      do-pgpool probe -o json | do-pgpool advice --stack prisma --probe -
      do-pgpool ensure-pool --name web-pool --size 20 --secret github:acme/web --url-for prisma --probe probe.json
      DO_PGPOOL_PROBE_URL="$POOL_URL" do-pgpool probe --no-direct   # any PgBouncer, no token
    """
    from .._redact import remember
    from ..ops._probe import probe_pool, probe_urls
    from ..postgres._probe import PROBE_TIMEOUT

    per_probe = min(PROBE_TIMEOUT, run_deadline().remaining() / (2 if direct else 1))
    if pool_url is not None:
        given = _given_on_command_line(cluster=cluster, pool=pool, my_ip=my_ip, temporary_access=temporary_access)
        if given:  # DO_PGPOOL_CLUSTER / DO_PGPOOL_MY_IP in the environment are for the other commands: ignored
            raise click.UsageError(f"--url probes that connection string: it takes no {', '.join(given)} "
                                   "(those pick a cluster's pool; give one or the other)")  # fmt: skip
        remember(*_passwords(pool_url, direct_url))
        _check_conninfo("--url", pool_url)
        if direct_url is not None:
            _check_conninfo("--direct-url", direct_url)
        connect_fn = _url_connect(tls)
        report = probe_urls(pool_url, direct_url if direct else None, timeout=per_probe, connect_fn=connect_fn)
    else:
        if direct_url is not None:
            raise click.UsageError("--direct-url goes with --url; a cluster's direct connection comes from the API")
        with open_gateway(token, api_url) as gateway, reachable(gateway, cluster, my_ip, temporary_access) as found, \
                tls.policy(gateway) as policy:
            with hint_sandbox_when_unreachable(api_url):
                report = probe_pool(gateway, found or cluster, pool, direct=direct, timeout=per_probe, tls=policy)
    if output == "json":
        emit_json(report.as_dict())
    else:
        for line in report.lines():
            click.echo(line)


probe_command.epilog = """\b
Exit codes:
    0  the probe ran, whatever the verdicts (they are the answer; -o json for scripts)
    1  the pool does not connect at all (unreachable, full, login refused: the message says which), no pool of
       that name, or an API error or timeout
    2  usage: bad options (--url with --cluster), no pool yet, or several pools and no --pool
  130  interrupted (Ctrl-C): nothing was changed (the probe's objects are temporary; a --temporary-access rule is
       removed)
"""


def _check_conninfo(option: str, url: str) -> None:
    """A string libpq cannot parse is a usage error (exit 2) before any connection, its secrets masked."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    from .._redact import redact

    try:
        conninfo_to_dict(url)
    except psycopg.Error as exc:
        raise click.UsageError(f"{option}: not a connection string libpq can read ({redact(str(exc).strip())}); "
                               "expected a pool's URI as DigitalOcean gives it (postgresql://..., port 25061, the "
                               "pool's name as the database, ?sslmode=require)") from None


def _given_on_command_line(**values: object) -> list[str]:
    """The options among ``values`` set on the command line (not from the environment or a default)."""
    from click.core import ParameterSource

    ctx = click.get_current_context()
    return [f"--{name.replace('_', '-')}" for name, value in values.items()
            if value and ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]


def _passwords(*urls: str | None) -> list[str]:
    """The passwords in these connection strings, URLs or keyword/value (``host=... password=...``) alike."""
    from urllib.parse import unquote, urlsplit

    from psycopg.conninfo import conninfo_to_dict

    found = []
    for url in urls:
        if not url:
            continue
        try:
            password = urlsplit(url).password if "://" in url else None
        except ValueError:
            password = None
        try:
            given = conninfo_to_dict(url).get("password")
        except Exception:  # noqa: BLE001 (psycopg.ProgrammingError and friends: a string libpq cannot parse)
            given = None
        found += [p for p in (password, unquote(password) if password else None, given) if isinstance(p, str) and p]
    return found


def _url_connect(tls: TLSOptions) -> Callable[..., PgConnection]:
    """``connect`` with --sslmode/--ca-file applied to a given URL (none given: the URL's own sslmode)."""
    from functools import partial

    from .._tls import TLS
    from ..postgres._connect import connect

    if tls.sslmode is None and tls.ca_file is None:
        return connect
    return partial(connect, tls=TLS(tls.sslmode or "verify-full", tls.ca_file))
