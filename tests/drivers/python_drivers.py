"""Real Python drivers through a real PgBouncer: N clients x M rounds of a parametrized query, each in a transaction,
on a schedule that makes clients share server connections deterministically (the same one as ``node/run.mjs``).

The schedule, on a pool of 2 server connections: a client runs its transaction (PgBouncer hands it the server
connection released last: idle ones are reused last-in, first-out), then the *holder*, one more client, opens a
transaction and so pins that server connection, and the client runs again, now on the other one; the holder
commits. Nothing is left to timing, so what breaks breaks in every run.

Also a command, for the case that needs a second *process* (asyncpg numbers its statements per process, so only
another process reuses a name): ``python -m tests.drivers.python_drivers < config.json`` prints the result.

Config: ``{"driver": "psycopg" | "asyncpg" | "sqlalchemy-psycopg" | "sqlalchemy-asyncpg", "url", "clients",
"rounds", "kwargs": {...}, "engine": {...}, "unique_names": bool}`` (see :func:`run`). Result: ``{"ok", "wrong",
"errors": [...], "servers": [...]}``: right answers, wrong answers, error messages, distinct server backend pids.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any
from uuid import uuid4

SQL = "SELECT %s::int + 1, pg_backend_pid()"
SQL_DOLLAR = "SELECT $1::int + 1, pg_backend_pid()"
SQL_NAMED = "SELECT CAST(:v AS int) + 1, pg_backend_pid()"

Run = Callable[[int], Awaitable[tuple[int, int]]]
Close = Callable[[], Awaitable[None]]


def _psycopg_client(url: str, kwargs: dict[str, Any]) -> tuple[Run, Close]:
    import psycopg

    conn = psycopg.connect(url, connect_timeout=10, **kwargs)

    async def run(v: int) -> tuple[int, int]:
        with conn.transaction():
            row = conn.execute(SQL, (v,)).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    async def close() -> None:
        conn.close()

    return run, close


async def _asyncpg_client(url: str, kwargs: dict[str, Any]) -> tuple[Run, Close]:
    import asyncpg

    conn = await asyncpg.connect(url, timeout=10, **kwargs)

    async def run(v: int) -> tuple[int, int]:
        async with conn.transaction():
            row = await conn.fetchrow(SQL_DOLLAR, v)
        assert row is not None
        return int(row[0]), int(row[1])

    return run, conn.close


def _sqlalchemy_url(url: str, dialect: str) -> str:
    url = url.replace("postgresql://", f"postgresql+{dialect}://", 1)
    # asyncpg's dialect takes TLS as a connect argument, not libpq's sslmode
    return url.replace("?sslmode=require", "") if dialect == "asyncpg" else url


def _sqlalchemy_psycopg_client(url: str, engine_kwargs: dict[str, Any]) -> tuple[Run, Close]:
    from sqlalchemy import create_engine, text

    engine = create_engine(_sqlalchemy_url(url, "psycopg"), **engine_kwargs)

    async def run(v: int) -> tuple[int, int]:
        with engine.begin() as conn:
            row = conn.execute(text(SQL_NAMED), {"v": v}).one()
        return int(row[0]), int(row[1])

    async def close() -> None:
        engine.dispose()

    return run, close


def _sqlalchemy_asyncpg_client(url: str, engine_kwargs: dict[str, Any], unique_names: bool) -> tuple[Run, Close]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    kwargs = dict(engine_kwargs)
    connect_args = {"ssl": "require", **kwargs.pop("connect_args", {})}
    if unique_names:  # the advice's code part: a function is not data
        connect_args["prepared_statement_name_func"] = lambda: f"__asyncpg_{uuid4()}__"
    if kwargs.pop("poolclass", None) == "NullPool":
        from sqlalchemy.pool import NullPool

        kwargs["poolclass"] = NullPool
    engine = create_async_engine(_sqlalchemy_url(url, "asyncpg"), connect_args=connect_args, **kwargs)

    async def run(v: int) -> tuple[int, int]:
        async with engine.begin() as conn:
            row = (await conn.execute(text(SQL_NAMED), {"v": v})).one()
        return int(row[0]), int(row[1])

    return run, engine.dispose


async def run(config: dict[str, Any]) -> dict[str, Any]:
    """Run ``config["clients"]`` clients for ``config["rounds"]`` rounds on the holder's schedule; the result."""
    import psycopg

    driver, url = config["driver"], config["url"]
    kwargs: dict[str, Any] = config.get("kwargs", {})
    holder = psycopg.connect(url, autocommit=True, prepare_threshold=None, connect_timeout=10)
    clients: list[tuple[Run, Close]] = []
    result: dict[str, Any] = {"ok": 0, "wrong": 0, "errors": [], "servers": []}
    servers: set[int] = set()
    try:
        for _ in range(config["clients"]):
            if driver == "psycopg":
                clients.append(_psycopg_client(url, kwargs))
            elif driver == "asyncpg":
                clients.append(await _asyncpg_client(url, kwargs))
            elif driver == "sqlalchemy-psycopg":
                clients.append(_sqlalchemy_psycopg_client(url, kwargs))
            elif driver == "sqlalchemy-asyncpg":
                clients.append(_sqlalchemy_asyncpg_client(url, kwargs, bool(config.get("unique_names"))))
            else:
                raise ValueError(f"unknown driver {driver!r}")

        async def once(client: Run, v: int) -> None:
            try:
                answer, pid = await client(v)
            except Exception as exc:  # noqa: BLE001 - every driver error is a result here
                result["errors"].append(f"{type(exc).__name__}: {exc}".splitlines()[0])
                return
            servers.add(pid)
            result["ok" if answer == v + 1 else "wrong"] += 1

        for i in range(config["rounds"]):
            for k, (client, _close) in enumerate(clients):
                v = 1000 * (k + 1) + i
                await once(client, v)  # on the server connection released last
                holder.execute("BEGIN")
                holder.execute("SELECT 1")
                await once(client, v)  # on the other one
                holder.execute("COMMIT")
    finally:
        for _run, close in clients:
            await close()
        holder.close()
    result["servers"] = sorted(servers)
    return result


def main() -> None:
    print(json.dumps(asyncio.run(run(json.load(sys.stdin)))))


if __name__ == "__main__":
    main()
