"""``fix``: the whole remediation as one idempotent run, as data.

status -> terminate idle sessions (only when saturated) -> ensure the pool -> (opt-in: the server settings,
``ensure-config``) -> write the secret(s) -> verify through the pool -> the settings the application needs.
Every step is a :class:`FixStep` (done / skipped / planned / failed, with the state a failure left); one
step's failure does not hide the others, and the API side (pool, secrets) runs even when the database refuses
the tool's own connection because it is full: the pool is the fix. Nothing here prints.

Decisions:

* Idle sessions are terminated only when the verdict is **saturated** (no non-superuser slot left, the
  tool's own session counted). At "near" a slot is still free; the idle sessions are usually the app's,
  and they go away by themselves once the app connects through the pool.
* The status connection stays open for the terminate step: a just-closed backend releases its slot
  asynchronously, so a second connection to a nearly full server could be refused. It is closed before
  the pool is verified, so the pool can have that slot.
* Verification is bounded: when PostgreSQL is full, PgBouncer accepts the client but queues the query until
  its ``query_wait_timeout`` (120 s by default) and ignores cancel requests for queued clients, so after
  ``verify_timeout`` seconds the connection is shut down from a watchdog and the step fails with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

from .._exceptions import DatabaseError, DoPgpoolError
from .._jsonable import jsonable
from .._models import Cluster, Pool
from .._tls import TLS
from ..postgres._connect import SATURATED_ADVICE, PgConnection, connect
from ..postgres._terminate import TerminateResult, find_idle, terminate
from ..postgres._usage import Session
from ..postgres._verify import VERIFY_TIMEOUT, VerifyResult, verify_pool
from ..targets._base import TargetOutcome, printed_values, rerun_advice
from ..targets._parse import check_targets, format_target
from ..targets._spec import SecretsSpec
from ..targets._write import write_secrets
from ._config import ConfigResult, Value, apply_config, plan_config
from ._pool import EnsureResult, ensure_pool
from ._pool_plan import PoolRequest
from ._status import ClusterStatus, live_status

if TYPE_CHECKING:
    from ..api._gateway import DigitalOcean

__all__ = ["STEP_NAMES", "FixOptions", "FixResult", "FixStep", "fix"]

logger = logging.getLogger(__name__)

StepOutcome = Literal["done", "skipped", "planned", "failed"]
STEP_NAMES = ("status", "terminate-idle", "ensure-pool", "secrets", "verify", "advice")


@dataclass(frozen=True)
class FixStep:
    """One step's outcome. ``changed``: it changed something; ``state``: what a failure left behind."""

    name: str
    outcome: StepOutcome
    summary: str
    details: tuple[str, ...] = ()
    changed: bool = False
    error: DoPgpoolError | None = None
    state: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome != "failed"

    def describe(self) -> str:
        return f"{self.name}: {self.outcome}: {self.summary}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "outcome": self.outcome,
            "ok": self.ok,
            "changed": self.changed,
            "summary": self.summary,
            "details": list(self.details),
            "error": str(self.error) if self.error is not None else None,
            "error_type": type(self.error).__name__ if self.error is not None else None,
            "state": self.state,
        }


@dataclass(frozen=True)
class FixResult:
    """Every step in order, plus the typed results behind them (None where a step did not get that far)."""

    steps: tuple[FixStep, ...]
    dry_run: bool
    cluster: Cluster | None = None
    status: ClusterStatus | None = None
    terminated: TerminateResult | None = None
    would_terminate: tuple[Session, ...] = ()
    ensure: EnsureResult | None = None
    secrets: tuple[TargetOutcome, ...] = ()
    verify: VerifyResult | None = None
    #: the ensure-config step's result, when ``FixOptions.config`` asked for one
    config: ConfigResult | None = None
    #: the secret name the pool's URI went to (for the advice text)
    secret_name: str = "DATABASE_URL"

    @property
    def ok(self) -> bool:
        return all(s.ok for s in self.steps)

    @property
    def changed(self) -> bool:
        return any(s.changed for s in self.steps)

    @property
    def failed(self) -> tuple[FixStep, ...]:
        return tuple(s for s in self.steps if not s.ok)

    def step(self, name: str) -> FixStep:
        return next(s for s in self.steps if s.name == name)

    @property
    def printed(self) -> dict[str, str]:
        """Values for the ``stdout`` secret target: the only place a password is ever returned."""
        return printed_values(self.secrets)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, without any password (the stdout target's values are left to the caller)."""
        from .._advice import advice_dict

        c = self.cluster
        return {
            "dry_run": self.dry_run,
            "ok": self.ok,
            "changed": self.changed,
            "cluster": jsonable(c, only=("id", "name", "size")) if c else None,
            "steps": [s.as_dict() for s in self.steps],
            "status": self.status.as_dict() if self.status else None,
            "terminate": self.terminated.as_dict() if self.terminated else None,
            "would_terminate": [s.as_dict() for s in self.would_terminate],
            "pool": self.ensure.as_dict() if self.ensure else None,
            "secrets": [o.as_dict() for o in self.secrets],
            "verify": self.verify.as_dict() if self.verify else None,
            "config": self.config.as_dict() if self.config else None,
            "advice": advice_dict(pool_env=self.secret_name),
        }


@dataclass
class _Run:
    steps: list[FixStep] = field(default_factory=list)

    def add(self, step: FixStep) -> None:
        if step.outcome == "failed":
            logger.warning("fix step %s failed: %s", step.name, step.error or step.summary)
        self.steps.append(step)


@dataclass(frozen=True)
class FixOptions:
    """What ``fix`` puts in place and how: the pool, where its connection string goes, and the bounds.

    ``pool``'s size may be a share of the cluster's connection budget (``PoolRequest(size="50%")``), resolved
    against the cluster found in the status step. ``idle_for``: when
    saturated, sessions idle at least this many seconds are terminated. ``verify_timeout``: how long the
    ``SELECT 1`` through the pool may take. ``dry_run`` reads and changes nothing. ``config``: server settings
    to ensure after the pool (``parse_settings(..., profile="web")``); empty (the default): no such step.
    """

    pool: PoolRequest
    secrets: SecretsSpec = field(default_factory=SecretsSpec)
    idle_for: float = 300
    replace: bool = False
    verify_timeout: float = VERIFY_TIMEOUT
    dry_run: bool = False
    config: Mapping[str, Value] = field(default_factory=dict)

    def __post_init__(self) -> None:
        from .._duration import check_seconds

        # nan, inf, negative: ConfigError
        object.__setattr__(self, "idle_for", check_seconds(self.idle_for, what="idle_for"))
        object.__setattr__(self, "verify_timeout",
                           check_seconds(self.verify_timeout, what="verify_timeout", positive=True))  # fmt: skip


#: the keywords of the older ``fix(gateway, request, targets=..., idle_for=...)`` call, and where each one goes
_SECRETS_KEYWORDS = {"targets": "targets", "secret_name": "name", "direct_secret_name": "direct_name",
                     "private": "private", "github": "github", "redeploy": "redeploy", "secret_user": "secret_user",
                     "url_for": "url_for"}
_OPTION_KEYWORDS = ("idle_for", "replace", "verify_timeout", "dry_run")


def _options_from_keywords(pool: PoolRequest, keywords: dict[str, Any]) -> FixOptions:
    unknown = set(keywords) - set(_SECRETS_KEYWORDS) - set(_OPTION_KEYWORDS)
    if unknown:
        raise TypeError(f"fix() got unexpected keyword arguments: {', '.join(sorted(unknown))}")
    spec = {_SECRETS_KEYWORDS[k]: v for k, v in keywords.items() if k in _SECRETS_KEYWORDS}
    if "targets" in spec:
        spec["targets"] = tuple(spec["targets"])
    options = {k: v for k, v in keywords.items() if k in _OPTION_KEYWORDS}
    return FixOptions(pool, SecretsSpec(**spec), **options)


def fix(
    gateway: DigitalOcean,
    options: FixOptions | PoolRequest,
    *,
    cluster: str | Cluster | None = None,
    connect_fn: Callable[[str], PgConnection] = connect,
    tls: Callable[[Cluster], TLS] | None = None,
    **keywords: Any,
) -> FixResult:
    """Run the remediation on ``cluster`` (name, uuid or a ``Cluster`` already read; None: the only PostgreSQL cluster).

    ``options`` is a :class:`FixOptions`. (A bare ``PoolRequest`` with the older keywords
    ``targets``, ``secret_name``, ``direct_secret_name``, ``private``, ``github``, ``redeploy``, ``secret_user``,
    ``idle_for``, ``replace``, ``verify_timeout``, ``dry_run`` is accepted too.)

    Never raises for a step's failure: it is in the returned steps (``result.ok`` is False). ``dry_run``
    reads (API and ``pg_stat_activity``) and changes nothing: no terminate, no pool write, no secret write,
    no verification.

    The secrets (and the verification) use the pool as DigitalOcean serves it after the pool step's write: its
    connection carries the pool user's credentials. A pool without a user (inbound user) needs
    ``secrets.secret_user``, a database user whose credentials go into the string (see ``_secret_values``).

    Raises ``ConfigError`` before any write when a ``dotenv:`` target cannot be a .env file (a ``{cluster}`` path
    is checked once the cluster is read, before the terminate step), or when ``tls`` (``ops._tls.TLSPolicy``:
    the sslmode and CA of do-pgpool's own connections, status and verification) cannot be satisfied.
    """
    if not isinstance(options, FixOptions):
        options = _options_from_keywords(options, keywords)
    elif keywords:
        raise TypeError("fix(): give the options in FixOptions, not as keywords")
    secrets, dry_run = options.secrets, options.dry_run
    secrets.check_inbound(options.pool.inbound_user)
    check_targets(secrets.targets)  # a dotenv: path that cannot be a .env file: refused before any request
    run = _Run()
    kw: dict[str, Any] = {"dry_run": dry_run, "secret_name": secrets.name}

    # 1. status: the API side first; a failure here leaves nothing to work on.
    try:
        found = cluster if isinstance(cluster, Cluster) else gateway.find_cluster(cluster)
        pools = tuple(gateway.list_connection_pools(found.id)) if found.is_postgres else ()
    except DoPgpoolError as exc:
        run.add(FixStep("status", "failed", "could not read the cluster from the API", error=exc,
                        state="nothing was changed"))  # fmt: skip
        for name in STEP_NAMES[1:-1]:
            run.add(FixStep(name, "skipped", "the cluster could not be read"))
            if name == "ensure-pool" and options.config:
                run.add(FixStep("ensure-config", "skipped", "the cluster could not be read"))
        run.add(_advice_step(secrets.name))
        return FixResult(tuple(run.steps), **kw)
    check_targets(secrets.targets, cluster=found.name)  # a dotenv:/srv/{cluster}/.env: before terminate or any write
    secrets.check_user(gateway, found)  # an unknown --secret-user: before terminate or any write
    settings = tls(found) if tls is not None else None  # a CA that cannot be had: refused before any write

    conn: PgConnection | None = None
    try:
        status, conn = live_status(found, pools, connect_fn, (lambda _c: settings) if settings else None)
        run.add(_status_step(status))
        # 2. terminate idle sessions (saturated only), on the same connection.
        terminated, would, step = _terminate_step(status, conn, idle_for=options.idle_for, dry_run=dry_run)
        run.add(step)
    finally:
        if conn is not None:
            conn.close()
    kw.update(cluster=found, status=status, terminated=terminated, would_terminate=would)

    # 3. the pool (API only); a --size N% is resolved against this cluster's budget.
    try:
        # ``found`` was read just above; fresh_connection: after a write the pool is read again for its
        # connection (the secrets and the verification need the credentials DigitalOcean now serves).
        ensured: EnsureResult | None = ensure_pool(gateway, options.pool, cluster=found, dry_run=dry_run,
                                                   replace=options.replace, fresh_connection=True)  # fmt: skip
    except DoPgpoolError as exc:
        ensured = None
        pool_name = options.pool.pool_name
        run.add(FixStep("ensure-pool", "failed", f"pool {pool_name!r} could not be put in place", error=exc,
                        state=_ensure_state(exc, pool_name)))  # fmt: skip
    else:
        assert ensured is not None
        run.add(_ensure_step(ensured))
    kw["ensure"] = ensured
    pool = ensured.current if ensured is not None else None

    # 3b. opt-in: the server settings (API only; independent of the pool step's outcome).
    if options.config:
        kw["config"], step = _config_step(gateway, found, options.config, dry_run=dry_run)
        run.add(step)

    # 4. secrets, only once the pool is confirmed.
    values: dict[str, str] | DoPgpoolError | None = None
    if pool is not None and (secrets.targets or not dry_run):
        try:
            values = secrets.values(gateway, found.id, pool, found)
        except DoPgpoolError as exc:
            values = exc
    outcomes, step = _secrets_step(ensured, pool, values, secrets, found, gateway, dry_run=dry_run)
    run.add(step)
    kw["secrets"] = tuple(outcomes)

    # 5. verify through the pool, with the string the secret got (the public one).
    url = _public_url(gateway, found, pool, values, secrets)
    verified, step = _verify_step(pool, url, status, dry_run=dry_run, timeout=options.verify_timeout, tls=settings)
    run.add(step)
    kw["verify"] = verified

    # 6. what the application needs behind a transaction pool.
    run.add(_advice_step(secrets.name))
    return FixResult(tuple(run.steps), **kw)


# --- 3b. server settings ----------------------------------------------------------------------------------


def _config_step(
    gateway: DigitalOcean, found: Cluster, desired: Mapping[str, Value], *, dry_run: bool
) -> tuple[ConfigResult | None, FixStep]:
    """``ensure-config`` on the cluster already read: GET .../config, then one PATCH of the changed keys."""
    name = "ensure-config"
    try:
        plan = plan_config(found, gateway.get_config(found.id), desired)
        done = apply_config(gateway, plan, dry_run=dry_run)
    except DoPgpoolError as exc:
        state = "the settings may or may not be set; a re-run reads them and sends only what still differs"
        return None, FixStep(name, "failed", "the server settings could not be set", error=exc, state=state)
    details = tuple(change.describe() for change in plan.changes)
    if not plan:
        return done, FixStep(name, "done", f"{len(plan.desired)} settings already set")
    if dry_run:
        return done, FixStep(name, "planned", f"would set {len(plan.changes)} settings", details=details)
    return done, FixStep(name, "done", f"set {len(plan.changes)} settings (one PATCH)", details=details, changed=True)


# --- 1. status -------------------------------------------------------------------------------------------


def _status_step(status: ClusterStatus) -> FixStep:
    v = status.verdict
    if status.usage is not None and v is not None:
        summary = v.describe()
    elif status.saturated:
        summary = "saturated: PostgreSQL refused do-pgpool's connection because it is full"
    else:
        # Only the API side was read: the step did not do what it is for, and says so.
        summary = f"live usage unavailable: {(status.error or 'unknown').splitlines()[0]}"
        return FixStep("status", "skipped", summary, details=tuple(status.lines()), error=status.failure)
    return FixStep("status", "done", summary, details=tuple(status.lines()))


# --- 2. terminate idle sessions --------------------------------------------------------------------------


def _terminate_step(
    status: ClusterStatus, conn: PgConnection | None, *, idle_for: float, dry_run: bool
) -> tuple[TerminateResult | None, tuple[Session, ...], FixStep]:
    name = "terminate-idle"
    if status.saturated and conn is None:
        return None, (), FixStep(
            name, "failed", "cannot connect to free idle sessions: PostgreSQL is full",
            error=DatabaseError(status.error or "PostgreSQL is full", saturated=True),
            state="no session was terminated; the pool and the secrets are still put in place below (they need "
                  "no database connection); once the application reconnects through the pool its direct "
                  "connections go away",
        )  # fmt: skip
    if conn is None or status.usage is None:
        reason = "the database did not answer" if status.unreachable else (
            status.error or "live usage unavailable").splitlines()[0]
        return None, (), FixStep(name, "skipped", f"live usage unknown, so nothing is terminated ({reason})")
    v = status.usage.verdict
    if v.level != "saturated":
        return None, (), FixStep(name, "skipped", f"not saturated ({v.level}, {v.free} of {v.limit} slots free); "
                                 "idle sessions are left alone")  # fmt: skip
    try:
        idle = tuple(find_idle(conn, idle_for=idle_for))
        if not idle:
            return None, (), FixStep(
                name, "skipped", f"saturated, but no client session has been idle for {idle_for:g} s or more",
                details=tuple(SATURATED_ADVICE.splitlines()[1:4]),
            )  # fmt: skip
        if dry_run:
            summary = f"would terminate {len(idle)} session(s) idle for {idle_for:g} s or more"
            return None, idle, FixStep(name, "planned", summary, details=tuple(s.describe() for s in idle))
        result = terminate(conn, idle)
    except DatabaseError as exc:
        return None, (), FixStep(name, "failed", "terminating idle sessions failed", error=exc,
                                 state="some sessions may have been terminated; re-run to finish")  # fmt: skip
    details = [f"terminated {s.describe()}" for s in result.terminated]
    details += [f"kept {s.describe()}: {reason}" for s, reason in result.skipped]
    return result, (), FixStep(name, "done", result.describe(), details=tuple(details),
                               changed=bool(result.terminated))  # fmt: skip


# --- 3. the pool -----------------------------------------------------------------------------------------


def _ensure_step(result: EnsureResult) -> FixStep:
    p = result.pool
    spec = f"{p.mode}, size {p.size}, db {p.db}, user {p.user or '(inbound user)'}"
    details = [c.describe() for c in result.changes] + [f"warning: {w}" for w in result.warnings]
    if result.note:
        details.append(f"note: {result.note}")
    if result.current is not None and result.current.connection is not None:
        details.append(f"connection: {result.current.connection.masked_uri}")
    if not result.changes:
        return FixStep("ensure-pool", "done", f"pool {p.name!r} is up to date ({spec}); nothing to do",
                       details=tuple(details))  # fmt: skip
    if result.dry_run:
        return FixStep("ensure-pool", "planned", f"{result.outcome} pool {p.name!r} ({spec})", details=tuple(details))
    return FixStep("ensure-pool", "done", f"{result.outcome} pool {p.name!r} ({spec})", details=tuple(details),
                   changed=True)  # fmt: skip


def _ensure_state(exc: DoPgpoolError, pool_name: str) -> str:
    if exc.state_left is not None:  # the pool step knew what it left (e.g. a replaced pool deleted, not created)
        return f"{exc.state_left}; secrets were not written"
    return f"pool {pool_name!r} was not changed; secrets were not written; fix the cause and re-run"


# --- 4. secrets ------------------------------------------------------------------------------------------


def _public_url(
    gateway: DigitalOcean, found: Cluster, pool: Pool | None, values: dict[str, str] | DoPgpoolError | None,
    secrets: SecretsSpec,
) -> str | DoPgpoolError | None:
    """The pool's public string for the verification: the secret's value, unless it is the VPC one or shaped for a
    stack (``url_for``)."""
    if pool is None or values is None or isinstance(values, DoPgpoolError) or not (secrets.private or secrets.url_for):
        return values[secrets.name] if isinstance(values, dict) else values
    try:  # the VPC string is not reachable from here; a stack's parameters (Prisma's, ...) are not libpq's
        plain = replace(secrets, private=False, direct_name=None, url_for=None, behaviour=None)
        return plain.values(gateway, found.id, pool)[secrets.name]
    except DoPgpoolError as exc:
        return exc


def _secrets_step(
    ensured: EnsureResult | None,
    pool: Pool | None,
    values: dict[str, str] | DoPgpoolError | None,
    secrets: SecretsSpec,
    found: Cluster,
    apps: DigitalOcean,
    *,
    dry_run: bool,
) -> tuple[list[TargetOutcome], FixStep]:
    name = "secrets"
    targets = [format_target(t, cluster=found.name) for t in secrets.targets]
    if not targets:
        return [], FixStep(name, "skipped", "no --secret target given: point the application at the pool yourself")
    labels = ", ".join(t.label for t in targets)
    if ensured is None:
        return [], FixStep(name, "skipped", f"the pool is not confirmed, so nothing was written to {labels}")
    if pool is None:  # dry run of a create: the connection string exists only once the pool does
        names = " and ".join(secrets.names)
        return [], FixStep(name, "planned", f"would write {names} to {labels} once the pool exists",
                           details=tuple(t.describe() for t in targets))  # fmt: skip
    try:
        if isinstance(values, DoPgpoolError):
            raise values
        assert values is not None
        outcomes = write_secrets(secrets, values, dry_run=dry_run, apps=apps, cluster=found.name)
    except DoPgpoolError as exc:
        return [], FixStep(name, "failed", "nothing was written", error=exc,
                           state=f"the pool is in place; {labels} left as they were")  # fmt: skip
    details = [o.describe() for o in outcomes] + [f"  {c.describe()}" for o in outcomes for c in o.changes]
    failed = [o for o in outcomes if not o.ok]
    if failed:
        done = [o.target for o in outcomes if o.ok]
        return outcomes, FixStep(
            name, "failed", f"{len(failed)} of {len(outcomes)} targets failed",
            details=tuple(details), error=failed[0].error, changed=any(_wrote(o) for o in outcomes),
            state=f"written or unchanged: {', '.join(done) or 'none'}; failed: "
                  f"{', '.join(o.target for o in failed)}; {rerun_advice(failed)}",
        )  # fmt: skip
    if dry_run:
        pending = [o for o in outcomes if o.action != "unchanged"]
        if pending:
            return outcomes, FixStep(name, "planned", f"would write {len(pending)} of {len(outcomes)} targets",
                                     details=tuple(details))  # fmt: skip
        return outcomes, FixStep(name, "done", f"all {len(outcomes)} targets unchanged", details=tuple(details))
    changed = [o for o in outcomes if _wrote(o)]
    summary = (f"wrote {len(changed)} of {len(outcomes)} targets" if changed
               else f"all {len(outcomes)} targets unchanged")  # fmt: skip
    return outcomes, FixStep(name, "done", summary, details=tuple(details), changed=bool(changed))


def _wrote(outcome: TargetOutcome) -> bool:
    return outcome.ok and outcome.action not in ("unchanged", "printed")


# --- 5. verify -------------------------------------------------------------------------------------------


def _verify_step(
    pool: Pool | None,
    url: str | DoPgpoolError | None,
    status: ClusterStatus,
    *,
    dry_run: bool,
    timeout: float,
    tls: TLS | None = None,
) -> tuple[VerifyResult | None, FixStep]:
    name = "verify"
    if dry_run:
        return None, FixStep(name, "skipped", "dry run: nothing to verify yet")
    if pool is None or url is None:
        return None, FixStep(name, "skipped", "the pool is not confirmed")
    if isinstance(url, DoPgpoolError):
        reason = str(url).split(". ")[0]
        return None, FixStep(name, "skipped", f"no credentials to connect through the pool with: {reason}")
    try:
        result = verify_pool(url, timeout=timeout, tls=tls)
    except DoPgpoolError as exc:
        error: DoPgpoolError = exc
        login_retry = isinstance(exc, DatabaseError) and exc.login_retry
        if isinstance(exc, DatabaseError) and exc.saturated:
            # The status step already listed what can be done about a full server; say only what happened here.
            error = DatabaseError(
                "PgBouncer could not open a server connection for the pool: " + str(exc).split("\n")[0],
                saturated=True, login_retry=login_retry,
            )  # fmt: skip
        state = "the pool and the secrets are in place, but the pool did not answer a query"
        if status.saturated or (status.usage is not None and status.usage.verdict.level == "saturated"):
            state += (
                "; PostgreSQL is still full, so the pool cannot open a server connection: restart the "
                "application so it reconnects through the pool (do-pgpool restart --app APP), then re-run"
            )
        if login_retry:
            state += (
                "; after a failed server login PgBouncer waits server_login_retry (15 s by default) before it "
                "tries again: re-run in 15 s"
            )
        return None, FixStep(name, "failed", "could not run SELECT 1 through the pool", error=error, state=state)
    return result, FixStep(name, "done", result.describe())


# --- 6. advice -------------------------------------------------------------------------------------------


def _advice_step(secret_name: str) -> FixStep:
    from .._advice import advice

    count = len(advice(pool_env=secret_name))
    return FixStep("advice", "done", f"settings for apps behind a transaction pool ({count} stacks)")
