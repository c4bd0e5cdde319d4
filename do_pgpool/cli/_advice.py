"""``do-pgpool advice``: the settings an application needs behind a transaction pool (what status and fix show).

No token and no request: the advice depends only on the stack.
"""

from __future__ import annotations

import click

from ._common import ReadOnlyAware, emit_json, output_option

STACKS = ["django", "psycopg", "sqlalchemy", "asyncpg", "prisma"]


@click.command("advice", cls=ReadOnlyAware, read_only=True)
@click.option("--stack", type=click.Choice(STACKS), help="Only this stack's settings.  [default: every stack]")
@click.option("--pool-env", default="DATABASE_URL", show_default=True, metavar="NAME",
              help="Environment variable holding the pool's connection string.")  # fmt: skip
@click.option("--direct-env", default="DIRECT_DATABASE_URL", show_default=True, metavar="NAME",
              help="Environment variable holding the cluster's direct connection string (migrations).")  # fmt: skip
@output_option
def advice_command(stack: str | None, pool_env: str, direct_env: str, output: str) -> None:
    """The settings an application needs behind a transaction pool (no token, no request).

    \b
    The same advice `do-pgpool status` and `do-pgpool fix` print after their findings; here without a token.
    Examples:
      do-pgpool advice
      do-pgpool advice --stack django
      do-pgpool advice -o json
    """
    from .._advice import advice_dict, render_text

    if output == "json":
        data = advice_dict(pool_env=pool_env, direct_env=direct_env)
        if stack is not None:
            data = {**data, "frameworks": [f for f in data["frameworks"] if f["key"] == stack]}
        emit_json(data)
    else:
        click.echo(render_text(pool_env=pool_env, direct_env=direct_env, only=stack))
