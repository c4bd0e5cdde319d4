"""The ``do-pgpool`` command line: parse, call the library, render, choose the exit code.

Each command lives in its own module, imported only when that command runs or its own ``--help`` is asked for
(click's lazy-group pattern): ``do-pgpool --help`` imports click and this package, nothing else. A command's
module imports the library inside the command's body.

Adding a command is one line in ``COMMANDS``: its name, ``module:attribute`` and the one-line summary the
top-level ``--help`` shows (the first line of the command's docstring; tests/test_cli_lazy.py checks both agree).

The top layer: may import every folder below it (ops/, testing/, targets/, postgres/, api/) and the top-level
modules, never the package root; nothing in the package imports cli/ except the entry points.
"""

from __future__ import annotations

import importlib

import click

from .._version import __version__
from ._common import EXIT_CODES_HELP, DoPgpoolGroup, configure_logging

__all__ = ["COMMANDS", "main"]

#: name -> ("module:command object", summary for the top-level --help)
COMMANDS: dict[str, tuple[str, str]] = {
    "ensure-pool": ("._ensure:ensure_pool_command",
                    "Create or update a PgBouncer connection pool so that it matches the options."),
    "ensure-config": ("._config:ensure_config_command",
                      "Set the cluster's PostgreSQL/PgBouncer settings that prevent connection exhaustion."),
    "rewrite-secret": ("._secrets:rewrite_secret_command",
                       "Write an existing pool's connection string to GitHub, App Platform, a .env file or stdout."),
    "fake-api": ("._fake:fake_api_command", "Serve a fake DigitalOcean API on loopback until Ctrl-C."),
    "resize": ("._resize:resize_command",
               "Resize the cluster to a bigger size (or more nodes) and wait until it is back online."),
    "restart": ("._restart:restart_command",
                "Restart what can be restarted: the cluster's pending maintenance, or an App Platform app."),
    "status": ("._diagnose:status_command",
               "Show the cluster's connection budget, its pools and live usage, with a verdict."),
    "terminate-idle": ("._diagnose:terminate_idle_command",
                       "Terminate idle client sessions (pg_terminate_backend) to free connection slots."),
    "fix": ("._fix:fix_command", "Take a cluster out of connection exhaustion in one run, and keep it out."),
    "sandbox": ("._sandbox:sandbox_command", "Replay a connection exhaustion locally, with no DigitalOcean account."),
    "list-pools": ("._pools:list_pools_command",
                   "List the cluster's pools (mode, size, db, user) and its connection budget line."),
    "delete-pool": ("._pools:delete_pool_command",
                    "Delete a PgBouncer pool, refusing while clients use it or a secret still points at it."),
    "migrate": ("._migrate:migrate_command",
                "Run a migration (any command) on the direct connection, then end the sessions it left behind."),
    "probe": ("._probe:probe_command",
              "Measure what the pool does to session features: works, breaks, or leaks into another client."),
    "advice": ("._advice:advice_command",
               "The settings an application needs behind a transaction pool (no token, no request)."),
}  # fmt: skip


class LazyGroup(DoPgpoolGroup):
    """Commands from ``COMMANDS``, imported on first use; the listing in ``--help`` needs no import."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMANDS, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = COMMANDS[cmd_name][0].partition(":")
        command = getattr(importlib.import_module(module_name, __name__), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{COMMANDS[cmd_name][0]} is not a click command")
        self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1] if name in COMMANDS else self.commands[name].get_short_help_str())
                for name in self.list_commands(ctx)]  # fmt: skip
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(
    cls=LazyGroup,
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
    Commands that call DigitalOcean read DIGITALOCEAN_TOKEN (or --token). Commands that change
    something take --dry-run; status, list-pools, probe and advice only read.
    `do-pgpool COMMAND --help` for each.
    """
    configure_logging(verbose)
