"""``do-pgpool sandbox``: the incident on one machine - a real PostgreSQL and PgBouncer behind the fake API."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from ..testing._sandbox import Sandbox

SANDBOX_EXIT_CODES = """\b
Exit codes:
  0  stopped by Ctrl-C or SIGTERM (everything it started is stopped and removed)
  1  PostgreSQL or PgBouncer is missing or would not start (the message says how to install them)
  2  usage: bad options, a non-loopback --host, a busy --port
  N  with -- CMD: CMD's own exit code
"""


@click.command(
    "sandbox", epilog=SANDBOX_EXIT_CODES, context_settings={"ignore_unknown_options": True}
)  # fmt: skip
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address of the fake API.")
@click.option("--port", type=click.IntRange(0, 65535), default=0,
              help="Port of the fake API.  [default: 0, a free port]")  # fmt: skip
@click.option("--pgbouncer", "pgbouncer", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Run this pgbouncer binary instead of the one on PATH (say, a PgBouncer >= 1.21).")  # fmt: skip
@click.option("--max-prepared-statements", type=click.IntRange(min=0), default=None,
              help="PgBouncer's max_prepared_statements (1.21+; 0 turns the support off).  [default: not set]")
@click.argument("cmd", nargs=-1, type=click.UNPROCESSED, metavar="[-- CMD [ARG]...]")
def sandbox_command(
    host: str, port: int, pgbouncer: Path | None, max_prepared_statements: int | None, cmd: tuple[str, ...]
) -> None:
    """Replay a connection exhaustion locally, with no DigitalOcean account.

    \b
    Starts, on free 127.0.0.1 ports and in a temporary folder:
      - a real PostgreSQL shaped like a 1 GiB DigitalOcean cluster: max_connections 25, 3 reserved
        for superusers, TLS, a non-superuser doadmin (and a user app)
      - a real PgBouncer, which serves the cluster's connection pools
      - the fake DigitalOcean API (see fake-api), seeded with cluster app-db, App Platform app web-app
        and GitHub repo acme/web; the cluster's connection string points at that PostgreSQL, its pools'
        at that PgBouncer. A pool created, resized or deleted through the API is a real PgBouncer pool
        before the API answers; a user created through the API is a real PostgreSQL role.

    \b
    Prints the environment to export, then serves until Ctrl-C or SIGTERM, and stops every process it
    started (by pid) and removes the folder. With `-- CMD`, runs CMD in that environment instead, and
    stops everything when CMD exits, with CMD's exit code.

    \b
    In one shell:   do-pgpool sandbox
    In another, paste the three export lines it printed, then:
      do-pgpool status
      do-pgpool fix --size 20 --secret dotenv:./.env
      do-pgpool terminate-idle --idle-for 0 --dry-run
    Or in one go:   do-pgpool sandbox -- do-pgpool status

    \b
    `make demo` replays the whole incident on it: the 23rd connection's FATAL, status, fix, 200 clients.

    \b
    Needs PostgreSQL's server binaries and pgbouncer (Debian/Ubuntu: apt-get install postgresql
    pgbouncer). As root they run as the postgres OS user (they refuse root). To see prepared statements
    work through the pool: --pgbouncer PATH_TO_1.21_OR_LATER --max-prepared-statements 100.
    """
    import signal
    import socket
    import subprocess
    import threading

    from ..testing._sandbox import Sandbox
    from ..testing._server import check_loopback
    from ..testing._servers import ServersUnavailable
    from ._common import OperationFailed

    try:
        check_loopback(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from exc
    try:  # the port first, before any server is started for nothing
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            probe.bind((host, port))
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                                 param_hint="--port") from exc  # fmt: skip
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, stop)
    code = 0
    try:
        with Sandbox.start(host=host, api_port=port, pgbouncer=pgbouncer,
                           max_prepared_statements=max_prepared_statements) as box:  # fmt: skip
            if cmd:
                click.echo(f"do-pgpool sandbox: running {' '.join(cmd)} with {box.api_url}", err=True)
                try:
                    code = subprocess.run(list(cmd), env=_command_env(box.env), check=False).returncode
                except OSError as exc:
                    raise click.UsageError(f"cannot run {cmd[0]}: {exc.strerror or exc}") from exc
            else:
                _announce(box)
                threading.Event().wait()  # until Ctrl-C or SIGTERM
    except ServersUnavailable as exc:
        raise OperationFailed(f"cannot start the sandbox: {exc}") from exc
    except (OSError, subprocess.SubprocessError) as exc:
        raise OperationFailed(f"cannot start the sandbox: {exc}") from exc
    except KeyboardInterrupt:
        code = 130 if cmd else 0  # Ctrl-C stops a CMD run; without CMD it is how the sandbox ends
    click.echo("do-pgpool sandbox: stopped; every process it started is gone and its folder removed", err=True)
    if code:
        raise click.exceptions.Exit(code)


def _command_env(sandbox_env: dict[str, str]) -> dict[str, str]:
    """CMD's environment: the sandbox's variables, and this installation's bin folder first on PATH, so that
    `do-pgpool` (and `python`) in CMD are the ones running the sandbox even when the virtualenv is not activated."""
    here = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    return {**os.environ, **sandbox_env, "PATH": f"{here}{os.pathsep}{path}" if path else here}


def _announce(box: Sandbox) -> None:
    s = box.servers
    pids = s.pids
    mps = s.max_prepared_statements
    prepared = "" if mps is None else f", max_prepared_statements {mps}"
    lines = [
        "# do-pgpool sandbox: a real PostgreSQL and PgBouncer behind a fake DigitalOcean API (no account)",
        f"#   fake DigitalOcean API  {box.api_url}",
        f"#   PostgreSQL {s.server_version_num // 10000}          {s.host}:{s.pg_port}  cluster {box.cluster.name}: "
        f"max_connections {s.max_connections}, {s.superuser_reserved} reserved, TLS, user doadmin "
        f"(pid {pids.get('postgres')})",
        f"#   {'PgBouncer ' + '.'.join(map(str, s.pgbouncer_version())):<23}{s.host}:{s.bouncer_port}  the cluster's "
        f"pools{prepared} (pid {pids.get('pgbouncer')})",
        f"#   folder                 {s.workdir}",
        "# Export these in another shell, then run do-pgpool status / fix / terminate-idle / ensure-pool:",
        *(f"export {key}={value}" for key, value in box.env.items()),
        f"# Ctrl-C here, or `kill {os.getpid()}` (SIGTERM), stops all of it and removes the folder.",
    ]
    for line in lines:
        click.echo(line)


@contextlib.contextmanager
def hint_sandbox_when_unreachable(api_url: str) -> Iterator[None]:
    """An unreachable database under a loopback API (the fake) gets :func:`sandbox_hint` appended."""
    from .._exceptions import DatabaseError

    try:
        yield
    except DatabaseError as exc:
        hint = sandbox_hint(api_url) if exc.unreachable else None
        if hint is None:
            raise
        raise exc.extended(f"\n{hint}") from exc


def sandbox_hint(api_url: str) -> str | None:
    """When the database did not answer and the API is on loopback (a fake): where a real one can be had."""
    import ipaddress
    from urllib.parse import urlsplit

    try:
        host = urlsplit(api_url).hostname or ""
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return None
    if not loopback:
        return None
    return (f"The API at {api_url} is local, probably do-pgpool's fake, whose clusters name hosts that do not "
            "exist. `do-pgpool sandbox` serves the same fake API with a real local PostgreSQL and PgBouncer "
            "behind its cluster.")  # fmt: skip
