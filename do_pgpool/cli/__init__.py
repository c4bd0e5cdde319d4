"""The ``do-pgpool`` command line: parse, call the library, render, choose the exit code.

Each command lives in its own module and imports the library inside its body, so ``--help`` stays instant.
"""

from __future__ import annotations

import click

from .. import __version__
from ._advice import advice_command
from ._common import EXIT_CODES_HELP, DoPgpoolGroup, configure_logging
from ._diagnose import status_command, terminate_idle_command
from ._ensure import ensure_pool_command
from ._fake import fake_api_command
from ._fix import fix_command
from ._resize import resize_command
from ._restart import restart_command
from ._secrets import rewrite_secret_command

__all__ = ["main"]


@click.group(
    cls=DoPgpoolGroup,
    epilog=EXIT_CODES_HELP,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.version_option(__version__, prog_name="do-pgpool")
@click.option("-v", "--verbose", count=True, help="More log lines on stderr (-vv for debug).")
def main(verbose: int) -> None:
    """Take a DigitalOcean managed PostgreSQL cluster out of connection exhaustion, and keep it out.

    \b
    The usual fix, in one idempotent command:
      do-pgpool ensure-pool --size 20                 # PgBouncer pool, transaction mode
      do-pgpool ensure-pool --size 20 --secret github:acme/web
    Every command reads DIGITALOCEAN_TOKEN and takes --dry-run.
    """
    configure_logging(verbose)


main.add_command(ensure_pool_command)
main.add_command(rewrite_secret_command)
main.add_command(fake_api_command)
main.add_command(resize_command)
main.add_command(restart_command)
main.add_command(status_command)
main.add_command(terminate_idle_command)
main.add_command(fix_command)
main.add_command(advice_command)
