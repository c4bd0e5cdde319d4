"""``do-pgpool fake-api``: serve the in-memory fake DigitalOcean (and GitHub secrets) API on loopback."""

from __future__ import annotations

from pathlib import Path

import click

FAKE_API_EXIT_CODES = """\b
Exit codes:
  0  stopped by Ctrl-C or SIGTERM (the --state file is saved first)
  2  usage: bad options, a non-loopback --host, a busy --port, an unreadable or unwritable --state file
"""


def _check_tokens(tokens: tuple[str, ...]) -> None:
    """An empty --token would start a server that answers 401 to everything: refuse it, and any token that
    could not travel in an Authorization header, without repeating it."""
    from .._exceptions import ConfigError
    from ..api._tokens import check_token

    for token in tokens:
        if not token.strip():
            raise click.BadParameter("an empty token would make the fake refuse every request; give a word, "
                                     "e.g. --token fake", param_hint="--token")  # fmt: skip
        try:
            check_token(token, what="--token", hint="A token is what clients will send, e.g. --token fake.")
        except ConfigError as exc:
            raise click.BadParameter(str(exc), param_hint="--token") from None


def _check_state_file(path: Path) -> None:
    """A state file is a regular file, or does not exist yet: /dev/full or a FIFO would never finish loading."""
    import stat

    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror or exc}", param_hint="--state") from exc
    if not stat.S_ISREG(mode):
        kinds = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"), (stat.S_ISFIFO, "a FIFO"),
                 (stat.S_ISSOCK, "a socket"))  # fmt: skip
        kind = next((name for test, name in kinds if test(mode)), "not a file")
        raise click.BadParameter(f"{path} is {kind}, not a regular file; give a path to a JSON file "
                                 "(it is created when missing)", param_hint="--state")  # fmt: skip


@click.command("fake-api", epilog=FAKE_API_EXIT_CODES)
@click.option("--host", default="127.0.0.1", show_default=True, help="Loopback address to bind; others are refused.")
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port to listen on.  [default: 0, a free port]")
@click.option(
    "--state",
    "state_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="JSON state file (a regular file): loaded at start when it exists, saved after every write and on exit.",
)
@click.option("--seed", type=click.Choice(["demo"]), help="Start with demo data (when no --state file exists yet).")
@click.option("--token", "tokens", multiple=True, metavar="TOKEN", help="Accept only this bearer token (repeatable).")
@click.option(
    "--rate-limit-per-minute", type=click.IntRange(min=1), default=250, show_default=True,
    help="Requests per minute per token before the fake answers 429 (DigitalOcean: 250).",
)
def fake_api_command(
    host: str, port: int, state_file: Path | None, seed: str | None, tokens: tuple[str, ...], rate_limit_per_minute: int
) -> None:
    """Serve a fake DigitalOcean API on loopback until Ctrl-C.

    \b
    Prints the base URL on stdout, then serves from memory the endpoints do-pgpool uses:
      /v2/databases (list, ?tag_name=), /v2/databases/options, /v2/databases/UUID and its
      /pools, /pools/NAME (GET POST PUT DELETE), /users, /users/NAME, /dbs, /config (GET PATCH),
      /resize, /maintenance, /install_update, /events, /autoscale (GET PUT), /ca;
      /v2/apps, /v2/apps/ID (GET PUT), /restart, /deployments, /deployments/ID;
      GitHub Actions secrets: /repos/OWNER/REPO/actions/secrets..., environments, workflow dispatches.
    Any other path answers DigitalOcean's 404 not_found. Point do-pgpool at it:
      do-pgpool ensure-pool --api-url http://127.0.0.1:PORT --token fake --size 20
    Other DigitalOcean clients (doctl, Terraform's provider) accept such a base URL but were not run
    against it; expect them to work only where they stay within the endpoints above.
    """
    import signal
    import threading

    from ..testing import FakeDigitalOcean, seed_demo
    from ..testing._clock import SystemClock
    from ..testing._server import FakeServer, check_loopback

    try:
        check_loopback(host)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--host") from exc
    _check_tokens(tokens)
    if state_file is not None:
        _check_state_file(state_file)
    fake = FakeDigitalOcean(clock=SystemClock(), rate_limit_per_minute=rate_limit_per_minute, strict=False)
    if tokens:
        fake.require_token(*tokens)
    if state_file is not None and state_file.exists():
        try:
            fake.load_state(state_file)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise click.BadParameter(
                f"{state_file} is not a state file this command wrote ({type(exc).__name__}: {exc}); "
                "move it away to start afresh", param_hint="--state",
            ) from exc
    elif seed == "demo":
        seed_demo(fake)

    def save() -> None:
        if state_file is not None:
            fake.save_state(state_file)

    try:
        save()  # now, not at the first write: a --state that cannot be written is a usage error
    except OSError as exc:
        raise click.BadParameter(f"cannot write {state_file}: {exc.strerror or exc}", param_hint="--state") from exc
    try:
        server = FakeServer(fake, host, port, after_request=save if state_file is not None else None)
    except OSError as exc:
        raise click.BadParameter(f"cannot listen on {host} port {port}: {exc.strerror or exc}",
                                 param_hint="--port") from exc  # fmt: skip

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
    click.echo(server.url)
    click.echo(f"do-pgpool fake-api: serving a fake DigitalOcean API on {server.url} (Ctrl-C stops)", err=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        save()
        click.echo("do-pgpool fake-api: stopped", err=True)
