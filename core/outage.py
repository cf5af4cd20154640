"""The database failing under a request: 503 with a reason and ``Retry-After``, never 500.

A connection cut while a request runs (a PostgreSQL restart or failover, a backend
terminated, the network), a server that refuses connections, no pooled connection free
within ``DATABASE_POOL_TIMEOUT``, a statement cancelled by the server: each reaches the view
as Django's ``OperationalError`` or ``InterfaceError`` (psycopg's and psycopg_pool's errors
wrapped). None of them is the client's fault and the same request will very likely succeed
a moment later, so ``core.api.exception_handler`` (the API) and
``core.middleware.DatabaseUnavailableMiddleware`` (pages) answer 503 with
``{"detail": <reason>, "code": "database_unavailable"}`` and ``Retry-After``
(docs/api.md, "Errors"). The transaction the request was in is rolled back by the server:
nothing of it was written.
"""

import logging

from django.db import InterfaceError, OperationalError

logger = logging.getLogger("core.outage")

DATABASE_UNAVAILABLE_CODE = "database_unavailable"
# Seconds a client waits before trying again: a fast restart or a pool's replacement
# connections take about that long.
DATABASE_RETRY_AFTER_SECONDS = 2

_BUSY = (
    "No database connection was free in time (all in use, or the database is not accepting "
    "connections); nothing of this request was saved. Retry after the Retry-After seconds."
)
_TIMEOUT = "The database did not answer in time; retry after the Retry-After seconds."
_UNREACHABLE = (
    "The database is unreachable for a moment (its connection was lost or refused); "
    "nothing of this request was saved. Retry after the Retry-After seconds."
)


def _psycopg_classes() -> tuple[tuple[type[BaseException], ...], tuple[type[BaseException], ...]]:
    """(errors meaning "no connection free", errors meaning "cancelled by the server"),
    empty without psycopg (the embedded mode may run without it)."""
    try:
        from psycopg.errors import QueryCanceled
        from psycopg_pool import PoolTimeout, TooManyRequests
    except ImportError:  # pragma: no cover - psycopg is in requirements/base.txt
        return (), ()
    return (PoolTimeout, TooManyRequests), (QueryCanceled,)


_POOL_BUSY, _CANCELLED = _psycopg_classes()


def _database_errors() -> tuple[type[BaseException], ...]:
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return (OperationalError, InterfaceError)
    # psycopg's own, for a path that reaches the view without Django's wrapper.
    return (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


DATABASE_ERRORS = _database_errors()


def database_unavailable_reason(exc: BaseException) -> str | None:
    """The reason to give the client when ``exc`` means the database could not serve the
    request (a lost, refused or busy connection, a cancelled statement); None for any other
    error. Logs the failure (a warning: it is the database's, not a bug of the request)."""
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    cause = exc.__cause__ if isinstance(exc.__cause__, Exception) else exc
    if isinstance(cause, _POOL_BUSY) or isinstance(exc, _POOL_BUSY):
        reason = _BUSY
    elif isinstance(cause, _CANCELLED) or isinstance(exc, _CANCELLED):
        reason = _TIMEOUT
    else:
        reason = _UNREACHABLE
    logger.warning("Database unavailable, answering 503: %s: %s", type(cause).__name__, cause)
    return reason
