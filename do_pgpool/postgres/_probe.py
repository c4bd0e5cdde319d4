"""Measure what a pool does to session features: two clients (A and B) through one URL, psycopg 3.

For each :class:`~do_pgpool._pool_behaviour.Feature`, client A sets some session state in one transaction and
looks for it in its next one; client B then looks for A's state. Through a transaction-mode pool both clients'
transactions run on server connections the pool hands out (usually the same one: PgBouncer reuses the most
recently used server first), so A's state may be gone (``breaks``) or show up in B's session (``leaks``). Every
transaction records its server backend (``pg_backend_pid()``), which is the evidence in each verdict.

Harmless on a production database: every object is temporary and named ``do_pgpool_probe_<random>``; the
advisory lock uses the two-key form ``(LOCK_CLASS, random)``, a key space apart from the one-``bigint`` keys
that frameworks use (Rails, Django, GoodJob); the ``search_path`` gets a schema that does not exist appended
at its *end* (name resolution is unchanged) and a custom setting ``do_pgpool.probe_<random>``. Afterwards the
probe removes its state from every server connection it used (``DEALLOCATE``, ``RESET``, unlock, ``UNLISTEN``,
``DROP``, ``CLOSE``), also after an error, and closes its connections. Every feature runs on connections of
its own under a watchdog (``timeout``) and with ``SET LOCAL statement_timeout``: one that fails or hangs is
``unknown`` with the reason, and the others are measured all the same.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import pq, sql

from .._dburl import mask_secrets_in
from .._exceptions import DatabaseError
from .._pool_behaviour import Behaviour, Feature, Measurement, PoolBehaviour
from ..api._retry import wait_until
from ._connect import PgConnection, connect, scrub
from ._watchdog import Watchdog

__all__ = ["LOCK_CLASS", "NAME_PREFIX", "NOTIFY_WAIT", "PROBE_APPLICATION", "PROBE_TIMEOUT", "lock_key", "probe"]

PROBE_APPLICATION = "do-pgpool-probe"
#: every object the probe creates is called NAME_PREFIX + 8 random hex digits
NAME_PREFIX = "do_pgpool_probe_"
#: the first key of the probe's advisory lock, ``pg_try_advisory_lock(LOCK_CLASS, random)`` (b"dopg")
LOCK_CLASS = 0x646F7067
#: the whole probe's default time limit, seconds
PROBE_TIMEOUT = 60.0
#: how long client A waits for the NOTIFY that client B sent (it arrives in milliseconds when LISTEN works)
NOTIFY_WAIT = 1.0
#: cleanup passes over the probe's clients (each pass: one transaction per client)
CLEANUP_PASSES = 3
#: after the watchdog cut the clients off, how long the cleanup waits for the backends the pool is closing to exit
CLOSING_WAIT = 3.0  # within the cleanup's own watchdog (5 s at least)


class _TimedOut(Exception):
    """The feature's watchdog fired, or the time limit was gone before the feature started."""


@dataclass(frozen=True)
class _Step:
    """One transaction of one client: the server backend it ran on, and its value or its error."""

    who: str
    pid: int | None
    value: Any = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def says(self) -> str:
        where = f"backend {self.pid}" if self.pid is not None else "no backend"
        if self.error:
            return f"{self.who} ({where}): {self.error}"
        return f"{self.who} ({where}): " + ("ok" if self.value is None else repr(self.value))


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, psycopg.Error):
        state = f"{exc.sqlstate} " if exc.sqlstate else ""
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{state}{first}"
    return type(exc).__name__


class _Client:
    """A probe connection; each ``step`` is one transaction that first records its server backend and sets
    ``statement_timeout`` for itself only (``SET LOCAL``)."""

    def __init__(self, conn: PgConnection, who: str, statement_ms: int) -> None:
        self.conn = conn
        self.who = who
        self.statement_ms = statement_ms
        self.pids: list[int] = []
        self.notified: list[str] = []

    @property
    def alive(self) -> bool:
        return not self.conn.closed and not self.conn.broken

    def step(self, work: Callable[[PgConnection], Any]) -> _Step:
        pid: int | None = None
        if not self.alive:
            return _Step(self.who, None, error="the connection was closed")
        try:
            with self.conn.transaction():
                row = self.conn.execute(
                    "SELECT pg_backend_pid(), set_config('statement_timeout', %s, true)", (str(self.statement_ms),)
                ).fetchone()
                pid = int(row[0]) if row else None
                if pid is not None:
                    self.pids.append(pid)
                value = work(self.conn)
        except psycopg.Error as exc:
            return _Step(self.who, pid, error=_error_text(exc))
        return _Step(self.who, pid, None if isinstance(value, psycopg.Cursor) else value)

    def notifications(self, wait: float = 0.0) -> list[str]:
        """The payloads of the notifications this client received so far (psycopg queues them), waiting up to
        ``wait`` seconds for one when none came yet; outside a transaction."""
        if self.alive:
            self.notified += [n.payload for n in self.conn.notifies(timeout=0)]
            if wait > 0 and not self.notified:
                self.notified += [n.payload for n in self.conn.notifies(timeout=wait, stop_after=1)]
        return self.notified


# --- what each feature does ------------------------------------------------------------------------------


@dataclass
class _Outcome:
    behaviour: Behaviour
    detail: str
    #: B's check ran on the server backend where A had set its state (None: not known); see ``_unshared``
    shared: bool | None = None


@dataclass(frozen=True)
class _Leftover:
    """How to find (``check``: one boolean) and remove (``drop``) the feature's state on one server backend."""

    check: sql.SQL | sql.Composed
    drop: Callable[[PgConnection], Any]
    params: tuple[Any, ...] = ()


def _judge(setup: _Step, a_kept: bool, b_saw: bool, evidence: str, b_check: _Step) -> _Outcome:
    """``leaks`` if B saw A's state, ``breaks`` if A lost it, else ``works``; a setup that failed is ``unknown``.

    ``b_check`` is B's transaction that looked for A's state: whether it ran where A set it is kept (``shared``).
    """
    shared = setup.pid is not None and setup.pid == b_check.pid
    if not setup.ok:
        return _Outcome(Behaviour.UNKNOWN, f"could not set the state up: {setup.says()}", shared)
    if b_saw:
        return _Outcome(Behaviour.LEAKS, evidence, shared)
    if not a_kept:
        return _Outcome(Behaviour.BREAKS, evidence, shared)
    return _Outcome(Behaviour.WORKS, evidence, shared)


def _unshared(outcome: _Outcome, shares: bool) -> _Outcome:
    """A ``works`` is proof only where B looked on the server connection holding A's state, or where clients
    never share server connections (a direct connection, a session pool). Through a pool seen sharing them, a
    B that ran elsewhere proves nothing (A may have kept its server connection by luck): ``unknown``."""
    if outcome.behaviour is not Behaviour.WORKS or outcome.shared is not False or not shares:
        return outcome
    why = "inconclusive: client B ran on another server connection than client A's state, in a pool that shares them"
    return _Outcome(Behaviour.UNKNOWN, f"{why} (busy?); re-run: {outcome.detail}")


def _same(a: _Step, b: _Step) -> str:
    if a.pid is not None and a.pid == b.pid:
        return f" (the same server connection, backend {a.pid})"
    return ""


def _result_value(conn: PgConnection, res: pq.abc.PGresult) -> Any:
    if res.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
        raise psycopg.errors.error_from_result(res, encoding=conn.info.encoding)
    value = res.get_value(0, 0) if res.status == pq.ExecStatus.TUPLES_OK and res.ntuples else None
    return value.decode() if isinstance(value, (bytes, bytearray, memoryview)) else value


def _parse(name: str, text: str) -> Callable[[PgConnection], Any]:
    """Protocol-level Parse of a named statement (what drivers send; not SQL PREPARE)."""
    return lambda conn: _result_value(conn, conn.pgconn.prepare(name.encode(), text.encode()))


def _bind(name: str, arg: str) -> Callable[[PgConnection], Any]:
    """Protocol-level Bind/Execute of a named statement."""
    return lambda conn: _result_value(conn, conn.pgconn.exec_prepared(name.encode(), [arg.encode()]))


def _prepared_leftover(name: str) -> _Leftover:
    return _Leftover(
        sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_prepared_statements WHERE name = %s)"),
        lambda conn: conn.execute(sql.SQL("DEALLOCATE {}").format(sql.Identifier(name))),
        (name,),
    )


def _protocol_prepared(a: _Client, b: _Client, name: str) -> _Outcome:
    a_text, b_text = "SELECT 'A:' || $1::text", "SELECT 'B:' || $1::text"
    setup = a.step(lambda c: (_parse(name, a_text)(c), _bind(name, "1")(c))[1])
    again = a.step(_bind(name, "2"))
    b_parse = b.step(_parse(name, b_text))
    b_run = b.step(_bind(name, "3"))
    a_kept = again.value == "A:2"
    b_saw = isinstance(b_run.value, str) and b_run.value.startswith("A:")
    if b_saw:
        evidence = (f"client B's Execute of its statement {name!r} ran client A's instead: got {b_run.value!r}"
                    f"{_same(setup, b_run)}; B's Parse: {b_parse.error or 'ok'}")  # fmt: skip
    elif a_kept and b_parse.ok and b_run.value == "B:3":
        evidence = (f"A re-executed its statement in a later transaction ({again.says()}); B's own of the same name "
                    f"gave {b_run.value!r}{_same(setup, b_run)}")  # fmt: skip
    else:
        evidence = f"A's later Execute: {again.says()}; B's Parse: {b_parse.says()}; B's Execute: {b_run.says()}"
    return _judge(setup, a_kept and b_parse.ok and b_run.value == "B:3", b_saw, evidence, b_run)


def _sql_prepare(a: _Client, b: _Client, name: str) -> _Outcome:
    ident = sql.Identifier(name)

    def prepare(letter: str) -> Callable[[PgConnection], Any]:
        return lambda c: c.execute(sql.SQL("PREPARE {} (text) AS SELECT {} || $1").format(ident, sql.Literal(letter)))

    def execute(arg: str) -> Callable[[PgConnection], Any]:
        return lambda c: _first(c.execute(sql.SQL("EXECUTE {} ({})").format(ident, sql.Literal(arg))))

    setup = a.step(prepare("A:"))
    again = a.step(execute("2"))
    b_prepare = b.step(prepare("B:"))
    b_run = b.step(execute("3"))
    a_kept = again.value == "A:2"
    b_saw = isinstance(b_run.value, str) and b_run.value.startswith("A:")
    if b_saw:
        evidence = (f"client B's EXECUTE {name} ran client A's statement: got {b_run.value!r}{_same(setup, b_run)}; "
                    f"B's PREPARE: {b_prepare.error or 'ok'}")  # fmt: skip
    else:
        evidence = f"A's later EXECUTE: {again.says()}; B's PREPARE: {b_prepare.says()}; B's EXECUTE: {b_run.says()}"
    return _judge(setup, a_kept and b_prepare.ok and b_run.value == "B:3", b_saw, evidence, b_run)


def _first(cur: psycopg.Cursor[Any]) -> Any:
    row = cur.fetchone()
    return row[0] if row else None


_PATH_HAS = "%s = ANY(string_to_array(current_setting('search_path'), ', '))"


def _guc(name: str) -> str:
    return f"do_pgpool.{name.removeprefix('do_pgpool_')}"  # a custom setting: nothing reads it


def _set(a: _Client, b: _Client, name: str) -> _Outcome:
    guc = _guc(name)
    path_has = _PATH_HAS
    read = sql.SQL("SELECT current_setting({}, true) = 'A', " + path_has).format(sql.Literal(guc))

    def set_both(c: PgConnection) -> None:
        c.execute(sql.SQL("SET {} = 'A'").format(sql.Identifier(*guc.split("."))))
        # appended at the end, a schema that does not exist: name resolution stays exactly as it was
        c.execute("SELECT set_config('search_path', current_setting('search_path') || ', ' || %s, false)", (name,))

    def look(c: PgConnection) -> tuple[bool, bool]:
        row = c.execute(read, (name,)).fetchone()
        return (bool(row[0]), bool(row[1])) if row else (False, False)

    setup = a.step(set_both)
    again = a.step(look)
    seen = b.step(look)
    a_vals = again.value if again.ok else (False, False)
    b_vals = seen.value if seen.ok else (False, False)
    words = ("SET " + guc, "SET search_path")
    kept = [w for w, v in zip(words, a_vals, strict=True) if v]
    leaked = [w for w, v in zip(words, b_vals, strict=True) if v]
    if leaked:
        evidence = f"client B saw client A's {' and '.join(leaked)}{_same(setup, seen)}"
        if len(leaked) < 2:
            evidence += f"; not {[w for w in words if w not in leaked][0]} (the pool restores that one)"
    else:
        lost = [w for w in words if w not in kept]
        evidence = (f"A's later transaction had {' and '.join(kept) or 'neither'}" + (f", lost {' and '.join(lost)}"
                    if lost else "") + f" ({again.says()}); B saw neither ({seen.says()})")  # fmt: skip
    return _judge(setup, len(kept) == 2, bool(leaked), evidence, seen)


def _set_leftover(name: str) -> _Leftover:
    guc = _guc(name)

    def drop(c: PgConnection) -> None:
        c.execute(sql.SQL("RESET {}").format(sql.Identifier(*guc.split("."))))
        c.execute("SELECT set_config('search_path', array_to_string(array_remove("
                  "string_to_array(current_setting('search_path'), ', '), %s), ', '), false)", (name,))  # fmt: skip

    check = sql.SQL("SELECT coalesce(current_setting({}, true), '') = 'A' OR " + _PATH_HAS).format(sql.Literal(guc))
    return _Leftover(check, drop, (name,))


_LOCK_HELD = ("SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND classid = %s AND objid = %s "
              "AND objsubid = 2 AND pid = pg_backend_pid() AND granted)")  # fmt: skip


def lock_key(name: str) -> tuple[int, int]:
    """The probe's advisory lock key for its random ``name``: ``(LOCK_CLASS, 31 random bits)``."""
    return LOCK_CLASS, int(name[-8:], 16) & 0x7FFFFFFF


def _advisory_lock(a: _Client, b: _Client, name: str) -> _Outcome:
    key = lock_key(name)
    mine = _LOCK_HELD
    setup = a.step(lambda c: _first(c.execute("SELECT pg_try_advisory_lock(%s, %s)", key)))
    again = a.step(lambda c: _first(c.execute(mine, key)))
    other = b.step(lambda c: _first(c.execute("SELECT pg_try_advisory_lock(%s, %s)", key)))
    if setup.ok and setup.value is not True:
        setup = _Step(setup.who, setup.pid, error=f"the probe's lock key {key} is taken by someone else")
    a_kept = again.value is True
    b_saw = other.value is True and other.pid == setup.pid
    if b_saw:
        evidence = f"client B got the session lock client A holds{_same(setup, other)}"
    elif other.value is True:
        evidence = f"A's lock was gone ({again.says()}), so B got it too ({other.says()})"
    else:
        evidence = f"A still held it in a later transaction ({again.says()}); B was refused ({other.says()})"
    return _judge(setup, a_kept and other.value is False, b_saw, evidence, other)


def _lock_leftover(name: str) -> _Leftover:
    key = lock_key(name)

    def drop(c: PgConnection) -> None:
        for _ in range(10):  # a session lock taken twice on one backend is released twice
            if _first(c.execute("SELECT pg_advisory_unlock(%s, %s)", key)) is not True:
                return

    return _Leftover(sql.SQL(_LOCK_HELD), drop, key)


def _listen(a: _Client, b: _Client, name: str, notify_wait: float) -> _Outcome:
    ident = sql.Identifier(name)
    payload = f"{name} from B"
    setup = a.step(lambda c: c.execute(sql.SQL("LISTEN {}").format(ident)))
    sent = b.step(lambda c: c.execute("SELECT pg_notify(%s, %s)", (name, payload)))
    again = a.step(lambda c: None)
    b_saw = payload in b.notifications()
    try:  # outside a transaction: through a pool, A holds no server connection while it waits
        a_kept = payload in a.notifications(0.0 if b_saw or not setup.ok else notify_wait)
    except psycopg.Error as exc:
        a_kept, again = False, _Step(a.who, again.pid, error=_error_text(exc))
    if b_saw:
        evidence = f"client B received the notification for client A's LISTEN{_same(setup, sent)}"
    elif a_kept:
        evidence = f"A received B's NOTIFY after its LISTEN's transaction had ended ({setup.says()}, {sent.says()})"
    else:
        evidence = (f"A never received B's NOTIFY within {notify_wait:g} s after its LISTEN's transaction "
                    f"({setup.says()}; B's NOTIFY {sent.says()}; A's next {again.says()})")  # fmt: skip
    if not sent.ok:
        setup = _Step(sent.who, sent.pid, error=f"B could not send NOTIFY: {sent.error}")
    return _judge(setup, a_kept, b_saw, evidence, sent)


def _listen_leftover(name: str) -> _Leftover:
    return _Leftover(sql.SQL("SELECT %s = ANY(ARRAY(SELECT pg_listening_channels()))"),
                     lambda c: c.execute(sql.SQL("UNLISTEN {}").format(sql.Identifier(name))), (name,))  # fmt: skip


_TABLE_EXISTS = sql.SQL("SELECT to_regclass(%s) IS NOT NULL")


def _temp_table(a: _Client, b: _Client, name: str) -> _Outcome:
    table = sql.Identifier("pg_temp", name)
    exists = _TABLE_EXISTS
    qualified = f"pg_temp.{name}"

    def create(c: PgConnection) -> None:
        c.execute(sql.SQL("CREATE TEMP TABLE {} (v text)").format(sql.Identifier(name)))
        c.execute(sql.SQL("INSERT INTO {} VALUES ('A')").format(table))

    def look(c: PgConnection) -> Any:
        if not _first(c.execute(exists, (qualified,))):
            return None
        return _first(c.execute(sql.SQL("SELECT v FROM {}").format(table)))

    setup = a.step(create)
    again = a.step(look)
    seen = b.step(look)
    a_kept, b_saw = again.value == "A", seen.value == "A"
    if b_saw:
        evidence = f"client B read client A's temporary table{_same(setup, seen)}"
    else:
        evidence = f"A's later transaction: {again.says()}; B: {seen.says()} (None: no such table)"
    return _judge(setup, a_kept, b_saw, evidence, seen)


def _temp_leftover(name: str) -> _Leftover:
    drop = sql.SQL("DROP TABLE IF EXISTS {}").format(sql.Identifier("pg_temp", name))
    return _Leftover(_TABLE_EXISTS, lambda c: c.execute(drop), (f"pg_temp.{name}",))


def _with_hold_cursor(a: _Client, b: _Client, name: str) -> _Outcome:
    ident = sql.Identifier(name)
    declare = sql.SQL("DECLARE {} CURSOR WITH HOLD FOR SELECT 'A:' || g FROM generate_series(1, 3) AS g")
    fetch = sql.SQL("FETCH NEXT FROM {}").format(ident)
    setup = a.step(lambda c: c.execute(declare.format(ident)))
    again = a.step(lambda c: _first(c.execute(fetch)))
    seen = b.step(lambda c: _first(c.execute(fetch)))
    a_kept = again.value == "A:1"
    b_saw = isinstance(seen.value, str) and seen.value.startswith("A:")
    if b_saw:
        evidence = f"client B fetched from client A's cursor: got {seen.value!r}{_same(setup, seen)}"
    else:
        evidence = f"A's FETCH in a later transaction: {again.says()}; B's: {seen.says()}"
    return _judge(setup, a_kept, b_saw, evidence, seen)


def _cursor_leftover(name: str) -> _Leftover:
    return _Leftover(sql.SQL("SELECT EXISTS (SELECT 1 FROM pg_cursors WHERE name = %s)"),
                     lambda c: c.execute(sql.SQL("CLOSE {}").format(sql.Identifier(name))), (name,))  # fmt: skip


#: each feature's measurement: (client A, client B, a unique name, NOTIFY wait) -> the verdict
MEASURES: dict[Feature, Callable[[_Client, _Client, str, float], _Outcome]] = {
    Feature.PROTOCOL_PREPARED: lambda a, b, n, w: _protocol_prepared(a, b, n),
    Feature.SQL_PREPARE: lambda a, b, n, w: _sql_prepare(a, b, n),
    Feature.SET: lambda a, b, n, w: _set(a, b, n),
    Feature.ADVISORY_LOCK: lambda a, b, n, w: _advisory_lock(a, b, n),
    Feature.LISTEN: _listen,
    Feature.TEMP_TABLE: lambda a, b, n, w: _temp_table(a, b, n),
    Feature.WITH_HOLD_CURSOR: lambda a, b, n, w: _with_hold_cursor(a, b, n),
}

#: how to find and remove each feature's state (known before measuring: a measurement that fails is cleaned up too)
LEFTOVERS: dict[Feature, Callable[[str], _Leftover]] = {
    Feature.PROTOCOL_PREPARED: _prepared_leftover,
    Feature.SQL_PREPARE: _prepared_leftover,
    Feature.SET: _set_leftover,
    Feature.ADVISORY_LOCK: _lock_leftover,
    Feature.LISTEN: _listen_leftover,
    Feature.TEMP_TABLE: _temp_leftover,
    Feature.WITH_HOLD_CURSOR: _cursor_leftover,
}


# --- running them ----------------------------------------------------------------------------------------


@dataclass
class _Budget:
    """The whole probe's time limit on ``clock``."""

    seconds: float
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)

    def __post_init__(self) -> None:
        self.started = self.clock()

    def remaining(self) -> float:
        return max(self.seconds - (self.clock() - self.started), 0.0)


def probe(
    url: str,
    *,
    timeout: float = PROBE_TIMEOUT,
    connect_fn: Callable[..., PgConnection] = connect,
    features: Sequence[Feature] = tuple(Feature),
    notify_wait: float = NOTIFY_WAIT,
    clock: Callable[[], float] = time.monotonic,
) -> PoolBehaviour:
    """Measure ``features`` through ``url`` (a pool's or a server's), within ``timeout`` seconds in all.

    Each feature runs on two connections of its own and is judged alone: a failure, a refusal (a missing
    privilege, say) or a timeout makes that feature ``unknown`` with the reason, never the others. Raises
    :class:`DatabaseError` only when the first connection fails (nothing can be measured: the server is full,
    unreachable, or refused the login). ``connect_fn(url, application_name=..., connect_timeout=...)`` opens a
    connection (``ops._tls.tls_connect`` binds the cluster's TLS to it).
    """
    from .._duration import check_seconds

    timeout = check_seconds(timeout, what="timeout", positive=True)
    budget = _Budget(timeout, clock)
    # a URL that does not connect at all is an error, not 7 unknowns; the first feature then uses this connection
    first: PgConnection | None = _open(connect_fn, url, budget)
    outcomes: list[tuple[Feature, _Outcome]] = []
    try:
        for feature in features:
            outcomes.append((feature, _measure(feature, url, connect_fn, budget, notify_wait, first)))
            first = None
    finally:
        if first is not None:
            first.close()
    shares = any(o.shared for _, o in outcomes)  # some B ran on the server connection of A's state
    return PoolBehaviour(tuple(
        Measurement(feature, o.behaviour, scrub(mask_secrets_in(o.detail), url))
        for feature, o in ((f, _unshared(o, shares)) for f, o in outcomes)
    ))


def _open(connect_fn: Callable[..., PgConnection], url: str, budget: _Budget) -> PgConnection:
    left = budget.remaining()
    if left <= 0:
        raise _TimedOut()
    return connect_fn(url, application_name=PROBE_APPLICATION, connect_timeout=max(2, math.ceil(min(left, 10))))


def _measure(
    feature: Feature,
    url: str,
    connect_fn: Callable[..., PgConnection],
    budget: _Budget,
    notify_wait: float,
    first: PgConnection | None,
) -> _Outcome:
    name = NAME_PREFIX + secrets.token_hex(4)
    with ExitStack() as stack:
        try:
            clients = _clients(stack, connect_fn, url, budget, first)
        except _TimedOut:
            return _Outcome(Behaviour.UNKNOWN, f"not measured: the probe's time limit ({budget.seconds:g} s) ran out")
        except DatabaseError as exc:
            return _Outcome(Behaviour.UNKNOWN, f"not measured: could not connect: {str(exc).splitlines()[0]}")
        a, b = clients
        dogs = [Watchdog(c.conn, max(budget.remaining(), 0.001)) for c in clients]
        try:
            outcome = MEASURES[feature](a, b, name, min(notify_wait, budget.remaining()))
        except Exception as exc:  # one feature's bug or surprise must not stop the others
            outcome = _Outcome(Behaviour.UNKNOWN, f"not measured: {_error_text(exc)}")
        finally:
            fired = any(d.fired for d in dogs)
            for d in dogs:
                d.stop()
            cleanup = _clean_up(clients, LEFTOVERS[feature](name), budget, connect_fn, url, stack, closed=fired)
        if fired:
            outcome = _Outcome(Behaviour.UNKNOWN, f"no answer within the probe's time limit ({budget.seconds:g} s): "
                                                  "is the pool waiting for a free server connection?")  # fmt: skip
        if cleanup:
            outcome = _Outcome(outcome.behaviour, f"{outcome.detail}; {cleanup}", outcome.shared)
        return outcome
    raise AssertionError("unreachable")  # pragma: no cover (mypy: ExitStack may swallow exceptions)


def _clients(
    stack: ExitStack, connect_fn: Callable[..., PgConnection], url: str, budget: _Budget, first: PgConnection | None
) -> tuple[_Client, _Client]:
    ms = max(int(budget.remaining() * 1000), 1)
    a_conn = stack.enter_context(first if first is not None else _open(connect_fn, url, budget))
    b_conn = stack.enter_context(_open(connect_fn, url, budget))
    return _Client(a_conn, "A", ms), _Client(b_conn, "B", ms)


def _clean_up(
    clients: Sequence[_Client],
    leftover: _Leftover,
    budget: _Budget,
    connect_fn: Callable[..., PgConnection],
    url: str,
    stack: ExitStack,
    *,
    closed: bool = False,
) -> str:
    """Remove the feature's state from every server backend the probe used; '' when done, else what is left.

    Through a pool each transaction may run on another server connection, so each pass runs one transaction
    per client until every backend that ran one of the probe's transactions was checked (or no longer exists).
    ``closed``: the watchdog shut the clients' connections down.
    """
    pending = {pid for c in clients for pid in c.pids}
    users = [] if closed else [c for c in clients if c.alive]
    if not users and pending:  # the watchdog closed them: one fresh connection, bounded by its own watchdog
        try:
            conn = stack.enter_context(connect_fn(url, application_name=PROBE_APPLICATION, connect_timeout=5))
        except DatabaseError:
            return f"cleanup could not connect: server backends {sorted(pending)} may keep the probe's state"
        users = [_Client(conn, "cleanup", 5000)]
    with _watchdogs(users, max(budget.remaining(), 5.0)):
        for _ in range(CLEANUP_PASSES):
            for client in users:
                if not pending:
                    return ""
                client.step(lambda c: _clean_one(c, leftover, pending))
        if pending and not _all_ended(users[0], pending) and closed:
            # the watchdog cut the clients off mid-transaction: the pool closes their server connections, whose
            # backends (and the state they hold) take a moment to exit, longer on a busy server
            wait_until(lambda: _all_ended(users[0], pending), every=0.05, within=CLOSING_WAIT)
    if not pending:
        return ""
    return (f"cleanup did not reach server backend(s) {sorted(pending)}: the probe's state there ends when the "
            "pool closes those server connections")


def _all_ended(client: _Client, pending: set[int]) -> bool:
    """Forget the ``pending`` backends that have exited: True when none is left (False also when unknown)."""
    running = client.step(lambda c: c.execute(
        "SELECT coalesce(array_agg(pid), '{}') FROM pg_stat_activity WHERE pid = ANY(%s)",
        (sorted(pending),)).fetchone())  # fmt: skip
    if running.ok and running.value is not None:
        pending &= set(running.value[0])
    return not pending


def _clean_one(conn: PgConnection, leftover: _Leftover, pending: set[int]) -> None:
    pid = _first(conn.execute("SELECT pg_backend_pid()"))
    if pid not in pending:
        return
    if _first(conn.execute(leftover.check, leftover.params)):
        leftover.drop(conn)
    pending.discard(pid)


@contextmanager
def _watchdogs(clients: Sequence[_Client], seconds: float) -> Iterator[None]:
    dogs = [Watchdog(c.conn, seconds) for c in clients]
    try:
        yield
    finally:
        for d in dogs:
            d.stop()
