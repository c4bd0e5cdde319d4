"""do-pgpool: take a DigitalOcean managed PostgreSQL cluster out of connection exhaustion and keep it out.

The public API is re-exported here from private modules. Names load on first use (PEP 562), so that
``do-pgpool --help``, which imports this package, pays for neither httpx nor pydo. Keep ``_EXPORTS`` and the
``TYPE_CHECKING`` imports below in step (tests/test_exported_members.py checks it).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# The library stays silent unless its user configures logging: see _log.py (not imported here, for speed).

# public name -> "private_module" or "private_module:attribute"
_EXPORTS: dict[str, str] = {
    "APIError": "_exceptions",
    "AuthenticationError": "_exceptions",
    "BudgetError": "_exceptions",
    "ConfigError": "_exceptions",
    "ConflictError": "_exceptions",
    "ConnectionFailedError": "_exceptions",
    "CredentialsMissingError": "_exceptions",
    "DatabaseError": "_exceptions",
    "DeadlineExceededError": "_exceptions",
    "DeploymentFailedError": "_exceptions",
    "DoPgpoolError": "_exceptions",
    "DotenvError": "_exceptions",
    "InvalidResponseError": "_exceptions",
    "NotFoundError": "_exceptions",
    "Param": "_exceptions",
    "PlanError": "_exceptions",
    "PreconditionFailedError": "_exceptions",
    "RateLimitedError": "_exceptions",
    "RequestTimeoutError": "_exceptions",
    "ServerError": "_exceptions",
    "Step": "_exceptions",
    "TransportError": "_exceptions",
    "WaitTimeoutError": "_exceptions",
    "Budget": "_budget",
    "connection_limit": "_budget",
    "Cluster": "_models",
    "Connection": "_models",
    "Pool": "_models",
    "PoolSpec": "_models",
    "DigitalOcean": "_gateway",
    "RetryConfig": "_retry",
    "Deadline": "_deadline",
    "CreatePool": "_plan",
    "PoolPlan": "_plan",
    "PoolRequest": "_plan",
    "ReplacePool": "_plan",
    "UpdatePool": "_plan",
    "plan_pool": "_plan",
    "EnsureResult": "_ensure",
    "ensure_pool": "_ensure",
    "AppTarget": "_targets",
    "DotenvTarget": "_targets",
    "GitHubTarget": "_targets",
    "Redeploy": "_targets",
    "SecretChange": "_targets",
    "SecretTarget": "_targets",
    "StdoutTarget": "_targets",
    "TargetOutcome": "_targets",
    "check_targets": "_targets",
    "connection_string_for": "_targets",
    "format_target": "_targets",
    "parse_target": "_targets",
    "write_secrets": "_targets",
    "GitHub": "_github",
    "open_github": "_github",
    "set_dotenv_keys": "_dotenv",
    "Session": "_diagnose",
    "TerminateResult": "_diagnose",
    "Usage": "_diagnose",
    "Verdict": "_diagnose",
    "find_idle": "_diagnose",
    "snapshot": "_diagnose",
    "terminate": "_diagnose",
    "verdict": "_diagnose",
    "Advice": "_advice",
    "advice": "_advice",
    "advice_dict": "_advice",
    "ClusterStatus": "_status",
    "cluster_status": "_status",
    "RateLimiter": "_limiter",
    "ClusterOutcome": "_fleet",
    "FleetResult": "_fleet",
    "PoolSize": "_fleet",
    "PoolTemplate": "_fleet",
    "SecretsSpec": "_fleet",
    "ensure_fleet": "_fleet",
    "ResizePlan": "_resize_plan",
    "ResizeRequest": "_resize_plan",
    "plan_resize": "_resize_plan",
    "ResizeResult": "_resize",
    "resize": "_resize",
    "RestartResult": "_restart",
    "restart_app": "_restart",
    "restart_cluster": "_restart",
    "Backoff": "_poll",
    "Progress": "_poll",
    "WaitOptions": "_poll",
    "wait_for_deployment": "_wait",
    "wait_until_ready": "_wait",
    "connect_database": "_diagnose:connect",
    "render_advice": "_advice:render_text",
    "VerifyResult": "_verify",
    "verify_pool": "_verify",
    "FixResult": "_fix",
    "FixStep": "_fix",
    "fix": "_fix",
}

__all__ = sorted([*_EXPORTS, "__version__"])


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
    from ._deadline import (
        Deadline,
    )
    from ._diagnose import (
        Session,
        TerminateResult,
        Usage,
        Verdict,
        find_idle,
        snapshot,
        terminate,
        verdict,
    )
    from ._diagnose import (
        connect as connect_database,
    )
    from ._dotenv import (
        set_dotenv_keys,
    )
    from ._ensure import (
        EnsureResult,
        ensure_pool,
    )
    from ._exceptions import (
        APIError,
        AuthenticationError,
        BudgetError,
        ConfigError,
        ConflictError,
        ConnectionFailedError,
        CredentialsMissingError,
        DatabaseError,
        DeadlineExceededError,
        DeploymentFailedError,
        DoPgpoolError,
        DotenvError,
        InvalidResponseError,
        NotFoundError,
        Param,
        PlanError,
        PreconditionFailedError,
        RateLimitedError,
        RequestTimeoutError,
        ServerError,
        Step,
        TransportError,
        WaitTimeoutError,
    )
    from ._fix import (
        FixResult,
        FixStep,
        fix,
    )
    from ._fleet import (
        ClusterOutcome,
        FleetResult,
        PoolSize,
        PoolTemplate,
        SecretsSpec,
        ensure_fleet,
    )
    from ._gateway import (
        DigitalOcean,
    )
    from ._github import (
        GitHub,
        open_github,
    )
    from ._limiter import (
        RateLimiter,
    )
    from ._models import (
        Cluster,
        Connection,
        Pool,
        PoolSpec,
    )
    from ._plan import (
        CreatePool,
        PoolPlan,
        PoolRequest,
        ReplacePool,
        UpdatePool,
        plan_pool,
    )
    from ._poll import (
        Backoff,
        Progress,
        WaitOptions,
    )
    from ._resize import (
        ResizeResult,
        resize,
    )
    from ._resize_plan import (
        ResizePlan,
        ResizeRequest,
        plan_resize,
    )
    from ._restart import (
        RestartResult,
        restart_app,
        restart_cluster,
    )
    from ._retry import (
        RetryConfig,
    )
    from ._status import (
        ClusterStatus,
        cluster_status,
    )
    from ._targets import (
        AppTarget,
        DotenvTarget,
        GitHubTarget,
        Redeploy,
        SecretChange,
        SecretTarget,
        StdoutTarget,
        TargetOutcome,
        check_targets,
        connection_string_for,
        format_target,
        parse_target,
        write_secrets,
    )
    from ._verify import (
        VerifyResult,
        verify_pool,
    )
    from ._wait import (
        wait_for_deployment,
        wait_until_ready,
    )
