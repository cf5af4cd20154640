"""Django's Redis cache with its connection pools shared by the whole process.

Under ASGI every request runs in a context of its own, and Django's cache handler gives each
context a new backend instance, so the stock backend opened a new Redis connection on every
request (the throttle and the graph-sync flag use the cache on the hot path). Redis
connection pools are thread-safe: one per server URL and process is enough. So is a redis-py
client over a pool, and the stock backend built one per call (~0.3 ms each in redis 8): one
per pool here too.
"""

import threading
from typing import Any

from django.conf import settings
from django.core.cache.backends.redis import RedisCache, RedisCacheClient
from redis.backoff import NoBackoff
from redis.retry import Retry

_pools: dict[str, Any] = {}
_clients: dict[Any, Any] = {}  # by pool
_pools_lock = threading.Lock()


class SharedPoolRedisCacheClient(RedisCacheClient):
    # django-stubs does not declare the client's private attributes used here.
    _servers: list[str]
    _pool_class: Any
    _pool_options: dict[str, Any]
    _get_connection_pool_index: Any
    _client: Any

    def _get_connection_pool(self, write: bool) -> Any:
        url = self._servers[self._get_connection_pool_index(write)]
        pool = _pools.get(url)
        if pool is None:
            with _pools_lock:
                pool = _pools.get(url)
                if pool is None:
                    pool = _pools[url] = self._pool_class.from_url(url, **self._pool_options)
        return pool

    def get_client(self, key: Any = None, *, write: bool = False) -> Any:
        pool = self._get_connection_pool(write)
        client = _clients.get(pool)
        if client is None:
            client = _clients[pool] = self._client(connection_pool=pool)
        return client


class SharedPoolRedisCache(RedisCache):
    def __init__(self, server: str, params: dict[str, Any]) -> None:
        super().__init__(server, params)
        self._class = SharedPoolRedisCacheClient

    def count_in_window(self, key: str, *, timeout: int) -> int:
        """Add one to the counter ``key`` (created at 0, expiring after ``timeout``
        seconds, when missing) and return it, in one round trip: the stock ``add`` then
        ``incr`` take three (``incr`` checks that the key exists first)."""
        key = self.make_and_validate_key(key)
        pipeline = self._cache.get_client(key, write=True).pipeline(transaction=False)
        pipeline.set(key, 0, ex=timeout, nx=True)
        pipeline.incr(key)
        return int(pipeline.execute()[1])


def redis_client_options() -> dict[str, Any]:
    """Keyword arguments of a redis-py client on a request's path: the timeouts and the one
    immediate retry of the settings (``REDIS_*_SECONDS``, ``REDIS_RETRIES``), instead of
    redis-py's 5 s timeouts and ten retries with backoff (docs/operations.md, "Redis down")."""
    return {
        "socket_connect_timeout": settings.REDIS_CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": settings.REDIS_SOCKET_TIMEOUT_SECONDS,
        "retry": Retry(NoBackoff(), settings.REDIS_RETRIES),
    }
