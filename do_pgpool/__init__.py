"""do-pgpool: take a DigitalOcean managed PostgreSQL cluster out of connection exhaustion and keep it out.

The public API: the operations, their options and results, and the error tree (``do_pgpool.testing`` holds the
fake). ``_PUBLIC`` is the one list of it; ``__all__`` and the lazy ``__getattr__`` derive from it. Names load on
first use (PEP 562), so that ``do-pgpool --help``, which imports this package, pays for neither httpx nor pydo.
The ``TYPE_CHECKING`` imports below exist for type checkers only; tests/test_exported_members.py keeps them in
step with ``_PUBLIC``. Nothing inside the package imports this module (tests/test_layers.py).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

# The library stays silent unless its user configures logging: see _log.py (not imported here, for speed).

# owning module -> the public names it provides, in layer order; "public:attribute" renames on export
_PUBLIC: dict[str, tuple[str, ...]] = {
    "_advice": ("Advice", "advice", "advice_dict", "render_advice:render_text"),
    "_budget": ("Budget", "connection_limit"),
    "_changes": ("Action", "Change", "Plan"),
    "_deadline": ("Deadline",),
    "_exceptions": (
        "APIError", "AccessLeftError", "AuthenticationError", "BudgetError", "CommandError", "ConfigError",
        "ConflictError", "ConnectionFailedError", "CredentialsMissingError", "DatabaseError", "DeadlineExceededError",
        "DeploymentFailedError", "DoPgpoolError", "DotenvError", "HeadroomError", "InvalidResponseError",
        "NotFoundError", "PlanError", "PreconditionFailedError", "RateLimitedError", "RequestTimeoutError",
        "ServerError", "Step", "TransportError", "WaitTimeoutError",
    ),
    "_models": ("Cluster", "Connection", "Pool", "PoolSpec"),
    "_pool_behaviour": ("Behaviour", "Feature", "Measurement", "PoolBehaviour"),
    "_stacks": ("Detection", "Detections", "detect_stacks"),
    "_tls": ("TLS",),
    "_version": ("__version__",),
    "api._gateway": ("DigitalOcean",),
    "api._github": ("GitHub", "open_github"),
    "api._limiter": ("RateLimiter",),
    "api._poll": ("Backoff", "Progress", "WaitOptions"),
    "api._retry": ("RetryConfig",),
    "postgres._connect": ("connect_database:connect",),
    "postgres._terminate": ("TerminateResult", "find_idle", "terminate"),
    "postgres._usage": ("Session", "Usage", "Verdict", "snapshot", "verdict"),
    "postgres._verify": ("VerifyResult", "verify_pool"),
    "targets._app": ("AppTarget",),
    "targets._base": ("SecretChange", "SecretTarget", "TargetOutcome"),
    "targets._dotenv": ("set_dotenv_keys",),
    "targets._parse": ("check_targets", "parse_target"),
    "targets._simple": ("DotenvTarget", "GitHubTarget", "Redeploy", "StdoutTarget"),
    "targets._spec": ("SecretsSpec",),
    "targets._write": ("connection_string_for", "write_secrets"),
    "ops._config": (
        "ConfigPlan", "ConfigResult", "apply_config", "ensure_config", "parse_settings", "plan_config",
        "prepare_config",
    ),
    "ops._fix": ("FixOptions", "FixResult", "FixStep", "fix"),
    "ops._fleet": ("ClusterOutcome", "FleetResult", "ensure_fleet"),
    "ops._pool": ("EnsureResult", "apply_pool", "ensure_pool", "prepare_pool"),
    "ops._pools": (
        "DeletePlan", "DeleteResult", "PoolList", "apply_delete_pool", "delete_pool", "list_pools", "plan_delete_pool",
        "prepare_delete_pool",
    ),
    "ops._pool_plan": ("PoolPlan", "PoolRequest", "PoolSize", "plan_pool"),
    "ops._resize": ("ResizeResult", "apply_resize", "prepare_resize", "resize"),
    "ops._rewrite": ("RewriteResult", "rewrite_secret"),
    "ops._resize_plan": ("ResizePlan", "ResizeRequest", "plan_resize"),
    "ops._restart": (
        "AppRestartPlan", "ClusterRestartPlan", "RestartResult", "apply_app_restart", "apply_cluster_restart",
        "plan_app_restart", "plan_cluster_restart", "prepare_app_restart", "prepare_cluster_restart", "restart_app",
        "restart_cluster",
    ),
    "ops._status": ("ClusterStatus", "cluster_status"),
    "ops._probe": ("ProbeReport", "probe_pool", "probe_urls"),
    "ops._terminate_idle": ("IdleResult", "terminate_idle"),
    "ops._migrate": ("MigrationPlan", "MigrationResult", "migrate"),
    "ops._child": ("ChildExit",),
    "ops._access": ("AccessGrant", "AccessPlan", "temporary_access"),
    "_trusted_sources": ("AccessVerdict", "judge_access"),
    "ops._tls": ("TLSPolicy",),
    "ops._wait": ("wait_for_deployment", "wait_until_ready"),
}

# public name -> "module" or "module:attribute" (derived from _PUBLIC)
_EXPORTS: dict[str, str] = {
    entry.partition(":")[0]: module + (":" + entry.partition(":")[2] if ":" in entry else "")
    for module, entries in _PUBLIC.items()
    for entry in entries
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'do_pgpool' has no attribute {name!r}")
    module, _, attribute = target.partition(":")
    value = getattr(importlib.import_module(f".{module}", __name__), attribute or name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from ._advice import (
        Advice,
        advice,
        advice_dict,
    )
    from ._advice import (
        render_text as render_advice,
    )
    from ._budget import (
        Budget,
        connection_limit,
    )
    from ._changes import (
        Action,
        Change,
        Plan,
    )
    from ._deadline import (
        Deadline,
    )
    from ._exceptions import (
        AccessLeftError,
        APIError,
        AuthenticationError,
        BudgetError,
        CommandError,
        ConfigError,
        ConflictError,
        ConnectionFailedError,
        CredentialsMissingError,
        DatabaseError,
        DeadlineExceededError,
        DeploymentFailedError,
        DoPgpoolError,
        DotenvError,
        HeadroomError,
        InvalidResponseError,
        NotFoundError,
        PlanError,
        PreconditionFailedError,
        RateLimitedError,
        RequestTimeoutError,
        ServerError,
        Step,
        TransportError,
        WaitTimeoutError,
    )
    from ._models import (
        Cluster,
        Connection,
        Pool,
        PoolSpec,
    )
    from ._pool_behaviour import (
        Behaviour,
        Feature,
        Measurement,
        PoolBehaviour,
    )
    from ._stacks import (
        Detection,
        Detections,
        detect_stacks,
    )
    from ._tls import (
        TLS,
    )
    from ._trusted_sources import (
        AccessVerdict,
        judge_access,
    )
    from .api._gateway import (
        DigitalOcean,
    )
    from .api._github import (
        GitHub,
        open_github,
    )
    from .api._limiter import (
        RateLimiter,
    )
    from .api._poll import (
        Backoff,
        Progress,
        WaitOptions,
    )
    from .api._retry import (
        RetryConfig,
    )
    from .ops._access import (
        AccessGrant,
        AccessPlan,
        temporary_access,
    )
    from .ops._child import (
        ChildExit,
    )
    from .ops._config import (
        ConfigPlan,
        ConfigResult,
        apply_config,
        ensure_config,
        parse_settings,
        plan_config,
        prepare_config,
    )
    from .ops._fix import (
        FixOptions,
        FixResult,
        FixStep,
        fix,
    )
    from .ops._fleet import (
        ClusterOutcome,
        FleetResult,
        ensure_fleet,
    )
    from .ops._migrate import (
        MigrationPlan,
        MigrationResult,
        migrate,
    )
    from .ops._pool import (
        EnsureResult,
        apply_pool,
        ensure_pool,
        prepare_pool,
    )
    from .ops._pool_plan import (
        PoolPlan,
        PoolRequest,
        PoolSize,
        plan_pool,
    )
    from .ops._pools import (
        DeletePlan,
        DeleteResult,
        PoolList,
        apply_delete_pool,
        delete_pool,
        list_pools,
        plan_delete_pool,
        prepare_delete_pool,
    )
    from .ops._probe import (
        ProbeReport,
        probe_pool,
        probe_urls,
    )
    from .ops._resize import (
        ResizeResult,
        apply_resize,
        prepare_resize,
        resize,
    )
    from .ops._resize_plan import (
        ResizePlan,
        ResizeRequest,
        plan_resize,
    )
    from .ops._restart import (
        AppRestartPlan,
        ClusterRestartPlan,
        RestartResult,
        apply_app_restart,
        apply_cluster_restart,
        plan_app_restart,
        plan_cluster_restart,
        prepare_app_restart,
        prepare_cluster_restart,
        restart_app,
        restart_cluster,
    )
    from .ops._rewrite import (
        RewriteResult,
        rewrite_secret,
    )
    from .ops._status import (
        ClusterStatus,
        cluster_status,
    )
    from .ops._terminate_idle import (
        IdleResult,
        terminate_idle,
    )
    from .ops._tls import (
        TLSPolicy,
    )
    from .ops._wait import (
        wait_for_deployment,
        wait_until_ready,
    )
    from .postgres._connect import (
        connect as connect_database,
    )
    from .postgres._terminate import (
        TerminateResult,
        find_idle,
        terminate,
    )
    from .postgres._usage import (
        Session,
        Usage,
        Verdict,
        snapshot,
        verdict,
    )
    from .postgres._verify import (
        VerifyResult,
        verify_pool,
    )
    from .targets._app import (
        AppTarget,
    )
    from .targets._base import (
        SecretChange,
        SecretTarget,
        TargetOutcome,
    )
    from .targets._dotenv import (
        set_dotenv_keys,
    )
    from .targets._parse import (
        check_targets,
        parse_target,
    )
    from .targets._simple import (
        DotenvTarget,
        GitHubTarget,
        Redeploy,
        StdoutTarget,
    )
    from .targets._spec import (
        SecretsSpec,
    )
    from .targets._write import (
        connection_string_for,
        write_secrets,
    )
