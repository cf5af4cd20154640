"""Request limits: scoped rate throttles for the API and login-attempt limiting.

Both count in Django's cache: with the Redis cache (every full-stack process) one
round trip of ``SET NX EX`` and ``INCR`` per request (``SharedPoolRedisCache.count_in_window``),
so the counts hold under concurrency and across processes; in the embedded mode
``cache.add`` then ``cache.incr`` on the local-memory cache do the same inside its one
process. Counting is in fixed windows (``<rate>`` requests per period,
starting on period boundaries); ``Retry-After`` says when the window ends.

* ``ScopedUserRateThrottle`` (REST_FRAMEWORK's default throttle): a view opts in with
  ``throttle_scope = "<scope>"``; its writes (not GET/HEAD/OPTIONS) are counted per user
  (per client IP when anonymous) against ``DEFAULT_THROTTLE_RATES[scope]``, read per request.
* ``TokenObtainRateThrottle``: the token endpoint, per client IP + username (scope ``auth``).
* ``login_attempt_begin`` / ``login_attempt_succeeded``: at most ``LOGIN_ATTEMPT_LIMIT``
  password checks per username + client IP per ``LOGIN_ATTEMPT_WINDOW_SECONDS``; a success
  clears the count. The attempt is counted *before* the password is checked, so a burst of
  concurrent guesses gets at most the limit checked and 429 for the rest. Other usernames
  and other addresses are never affected.

If the cache itself fails (Redis down) the limits let requests through and log a warning:
the API stays up, the limits are off until Redis is back.
"""

import hashlib
import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from rest_framework.permissions import SAFE_METHODS
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

logger = logging.getLogger(__name__)

PERIOD_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# A window's key outlives the window by this much, so an INCR never lands on a key that
# expired between ``add`` and ``incr`` (which would leave a counter without expiry).
KEY_GRACE_SECONDS = 60
CACHE_ERRORS = (redis.RedisError, OSError)


def parse_rate(rate: str) -> tuple[int, int]:
    """``"100/min"`` -> (100, 60). The period's first letter counts: s, m, h or d."""
    count, _, period = rate.partition("/")
    try:
        return int(count), PERIOD_SECONDS[period.strip()[:1].lower()]
    except (ValueError, KeyError):
        raise ImproperlyConfigured(
            f"Invalid throttle rate {rate!r}: expected '<count>/<s|min|hour|day>'."
        ) from None


def client_ip(request: Any) -> str:
    """The client's address: ``REMOTE_ADDR``, or with ``NUM_PROXIES`` trusted proxies in
    front (nginx: 1) the X-Forwarded-For entry that many hops from the right, which the
    client cannot choose."""
    remote_addr = request.META.get("REMOTE_ADDR") or "unknown"
    num_proxies = api_settings.NUM_PROXIES or 0
    forwarded_for = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if num_proxies <= 0 or not forwarded_for:
        return remote_addr
    addresses = [address.strip() for address in forwarded_for.split(",") if address.strip()]
    if not addresses:
        return remote_addr
    return addresses[-min(num_proxies, len(addresses))]


def _digest(*parts: str) -> str:
    # surrogatepass: a lone surrogate ("\ud800", valid in JSON) is not UTF-8 but is a key.
    joined = "\x00".join(parts).encode("utf-8", errors="surrogatepass")
    return hashlib.sha256(joined).hexdigest()[:32]


def _count_hit(key: str, *, timeout: int) -> int:
    """Count one hit on ``key`` atomically and return the new count."""
    count_in_window = getattr(cache, "count_in_window", None)  # the Redis cache: one trip
    if count_in_window is not None:
        return int(count_in_window(key, timeout=timeout))
    for _ in range(3):
        cache.add(key, 0, timeout=timeout)
        try:
            return int(cache.incr(key))
        except ValueError:  # the key expired between add and incr: add it again
            continue
    return 0


@dataclass(frozen=True)
class WindowHit:
    key: str
    count: int
    allowed: bool
    retry_after: int


def window_hit(key_base: str, *, limit: int, period: int, now: float | None = None) -> WindowHit:
    """Count one request against ``limit`` per ``period`` seconds (fixed windows)."""
    now = time.time() if now is None else now
    window = int(now // period)
    key = f"{key_base}:{window}"
    retry_after = max(1, math.ceil((window + 1) * period - now))
    try:
        count = _count_hit(key, timeout=period + KEY_GRACE_SECONDS)
    except CACHE_ERRORS as error:
        logger.warning("Rate limit %s not counted (cache unavailable): %s", key_base, error)
        return WindowHit(key=key, count=0, allowed=True, retry_after=retry_after)
    return WindowHit(key=key, count=count, allowed=count <= limit, retry_after=retry_after)


class ScopedUserRateThrottle(BaseThrottle):
    """Writes to a view with ``throttle_scope`` are counted per user against
    ``REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]`` (read per request, so settings
    overrides apply at once). A rate of None or "" means unlimited."""

    def __init__(self) -> None:
        self.retry_after: int | None = None

    def scope_of(self, view: Any) -> str | None:
        return getattr(view, "throttle_scope", None)

    def applies_to(self, request: Any) -> bool:
        return request.method not in SAFE_METHODS

    def ident(self, request: Any, view: Any) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"ip:{client_ip(request)}"

    @staticmethod
    def rate_for(scope: str) -> tuple[int, int] | None:
        rates = api_settings.DEFAULT_THROTTLE_RATES or {}
        if scope not in rates:
            raise ImproperlyConfigured(f"No throttle rate for scope {scope!r} in settings.")
        rate = rates[scope]
        return parse_rate(str(rate)) if rate else None

    def allow_request(self, request: Any, view: Any) -> bool:
        scope = self.scope_of(view)
        if not scope or not self.applies_to(request):
            return True
        rate = self.rate_for(scope)
        if rate is None:
            return True
        limit, period = rate
        hit = window_hit(
            f"throttle:{scope}:{self.ident(request, view)}", limit=limit, period=period
        )
        self.retry_after = hit.retry_after
        return hit.allowed

    def wait(self) -> float | None:
        return self.retry_after


class TokenObtainRateThrottle(ScopedUserRateThrottle):
    """``POST /api/v1/auth/token``: requests per client IP + username (scope ``auth``)."""

    def scope_of(self, view: Any) -> str | None:
        return "auth"

    def ident(self, request: Any, view: Any) -> str:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        return _digest(client_ip(request), username if isinstance(username, str) else "")


@dataclass(frozen=True)
class LoginAttempt:
    key: str
    allowed: bool
    retry_after: int


def login_attempt_begin(*, username: str, ip: str) -> LoginAttempt:
    """Count a password check for ``username`` from ``ip`` before it is made; ``allowed``
    is False once the window's limit is used up (answer 429 with ``retry_after``)."""
    hit = window_hit(
        f"login-attempts:{_digest(ip, username)}",
        limit=settings.LOGIN_ATTEMPT_LIMIT,
        period=settings.LOGIN_ATTEMPT_WINDOW_SECONDS,
    )
    return LoginAttempt(key=hit.key, allowed=hit.allowed, retry_after=hit.retry_after)


def login_attempt_succeeded(attempt: LoginAttempt) -> None:
    """The password was right: forget this username + address's earlier failures."""
    try:
        cache.delete(attempt.key)
    except CACHE_ERRORS as error:
        logger.warning("Login attempt counter not cleared (cache unavailable): %s", error)
