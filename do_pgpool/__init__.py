"""do-pgpool: take a DigitalOcean managed PostgreSQL cluster out of connection exhaustion and keep it out.

The public API is re-exported here from private modules. Names load on first use (PEP 562), so that
``do-pgpool --help``, which imports this package, pays for neither httpx nor pydo.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> private module that defines it
_EXPORTS: dict[str, str] = {
    # errors
    "APIError": "_exceptions",
    "AuthenticationError": "_exceptions",
    "BudgetError": "_exceptions",
    "ConfigError": "_exceptions",
    "ConflictError": "_exceptions",
    "CredentialsMissingError": "_exceptions",
    "DatabaseError": "_exceptions",
    "DoPgpoolError": "_exceptions",
    "InvalidResponseError": "_exceptions",
    "NotFoundError": "_exceptions",
    "PlanError": "_exceptions",
    "PreconditionFailedError": "_exceptions",
    "RateLimitedError": "_exceptions",
    "ServerError": "_exceptions",
    "TransportError": "_exceptions",
    "WaitTimeoutError": "_exceptions",
    # models and budget
    "Budget": "_budget",
    "Cluster": "_models",
    "Connection": "_models",
    "Pool": "_models",
    "PoolSpec": "_models",
    "connection_limit": "_budget",
    # the API
    "DigitalOcean": "_gateway",
    "RetryConfig": "_retry",
    # ensure-pool
    "CreatePool": "_plan",
    "PoolPlan": "_plan",
    "PoolRequest": "_plan",
    "ReplacePool": "_plan",
    "UpdatePool": "_plan",
    "plan_pool": "_plan",
    "EnsureResult": "_ensure",
    "ensure_pool": "_ensure",
}

__all__ = sorted([*_EXPORTS, "__version__"])


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'do_pgpool' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from ._budget import Budget, connection_limit
    from ._ensure import EnsureResult, ensure_pool
    from ._exceptions import (
        APIError,
        AuthenticationError,
        BudgetError,
        ConfigError,
        ConflictError,
        CredentialsMissingError,
        DatabaseError,
        DoPgpoolError,
        InvalidResponseError,
        NotFoundError,
        PlanError,
        PreconditionFailedError,
        RateLimitedError,
        ServerError,
        TransportError,
        WaitTimeoutError,
    )
    from ._gateway import DigitalOcean
    from ._models import Cluster, Connection, Pool, PoolSpec
    from ._plan import CreatePool, PoolPlan, PoolRequest, ReplacePool, UpdatePool, plan_pool
    from ._retry import RetryConfig
