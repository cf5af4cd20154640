"""Who is on the other end of a WebSocket handshake (docs/api.md, "WebSocket").

``WebSocketAuthMiddleware`` wraps the WebSocket router and puts three keys into the scope:

- ``user``: the authenticated user, or ``AnonymousUser``;
- ``auth``: an :class:`AuthInfo` saying how (``jwt`` with the token's expiry, ``session`` with
  the session key, or ``None``), so the consumer can re-check the credential while the socket
  stays open;
- ``auth_failure``: ``"invalid_token"`` or ``"origin_not_allowed"`` when credentials were
  presented and refused (the consumer turns them into close codes 4401 and 4403).

Credentials, first match wins:

1. ``Authorization: Bearer <access token>`` header (simplejwt access token, active user only);
2. the subprotocol ``bearer.<access token>`` offered beside ``ecosystem.v1``. The bearer entry
   is removed from ``scope["subprotocols"]`` so nothing downstream can echo or log it;
3. the Django session cookie, but only when the handshake's ``Origin`` is allowed: the same
   host as the ``Host`` header, or listed in ``WS_ALLOWED_ORIGINS`` or ``CSRF_TRUSTED_ORIGINS``.
   Browsers attach cookies to cross-site WebSocket handshakes and WebSockets have no CORS,
   so a foreign origin carrying a session cookie is refused with 4403 ("origin not allowed")
   rather than silently treated as that user (cross-site WebSocket hijacking).

A token in the URL query string is never read: URLs end up in logs and browser history.
A token that is presented but invalid or expired is a 4401; it does not fall back to a cookie.
"""

from dataclasses import dataclass
from importlib import import_module
from typing import Any, Literal
from urllib.parse import urlsplit

from channels.auth import get_user
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http.cookie import parse_cookie
from rest_framework.exceptions import AuthenticationFailed

from core.authentication import JWTAuthentication

BEARER_SUBPROTOCOL_PREFIX = "bearer."
AUTH_FAILURE_INVALID_TOKEN = "invalid_token"
AUTH_FAILURE_FOREIGN_ORIGIN = "origin_not_allowed"


@dataclass(frozen=True, slots=True)
class AuthInfo:
    """How the connection authenticated; what the consumer re-checks while it is open."""

    method: Literal["jwt", "session"] | None
    expires_at: float | None = None  # JWT ``exp`` (Unix seconds)
    session_key: str | None = None


ANONYMOUS = AuthInfo(method=None)


def _headers(scope: dict[str, Any]) -> dict[bytes, bytes]:
    """Handshake headers by lower-case name (the last one wins for repeated names)."""
    return {name.lower(): value for name, value in scope.get("headers", [])}


def bearer_from_header(value: bytes | None) -> str | None:
    if not value:
        return None
    scheme, _, credentials = value.decode("latin1").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


def bearer_from_subprotocols(subprotocols: list[str]) -> str | None:
    for subprotocol in subprotocols:
        if subprotocol.startswith(BEARER_SUBPROTOCOL_PREFIX):
            token = subprotocol[len(BEARER_SUBPROTOCOL_PREFIX) :]
            return token or None
    return None


def _origin_of(url: str) -> tuple[str, str] | None:
    """``(scheme, host[:port])`` of an origin or origin-like URL, lower case; None if not one."""
    parts = urlsplit(url.strip())
    if not parts.scheme or not parts.netloc:
        return None
    return parts.scheme.lower(), parts.netloc.lower()


def _matches_trusted(origin: tuple[str, str], trusted: str) -> bool:
    """Exact origin match, or a ``scheme://*.example.com`` wildcard as Django's CSRF allows."""
    candidate = _origin_of(trusted)
    if candidate is None or candidate[0] != origin[0]:
        return False
    netloc = candidate[1]
    if netloc.startswith("*."):
        return origin[1].endswith(netloc[1:])
    return origin[1] == netloc


def origin_allowed(headers: dict[bytes, bytes]) -> bool:
    """Whether a cookie-carrying handshake comes from a page we trust.

    Same host as the ``Host`` header (scheme is not compared: behind a TLS-terminating proxy
    the page is https while the hop to us is plain), or an entry of ``WS_ALLOWED_ORIGINS`` /
    ``CSRF_TRUSTED_ORIGINS``. A missing or ``null`` Origin is not allowed: every browser sends
    one on a WebSocket handshake, and non-browser clients should use a token.
    """
    raw_origin = headers.get(b"origin", b"").decode("latin1")
    origin = _origin_of(raw_origin)
    if origin is None:
        return False
    host = headers.get(b"host", b"").decode("latin1").strip().lower()
    if host and origin[1] == host:
        return True
    trusted = [*settings.WS_ALLOWED_ORIGINS, *settings.CSRF_TRUSTED_ORIGINS]
    return any(_matches_trusted(origin, entry) for entry in trusted)


def user_for_access_token(raw_token: str) -> tuple[Any, float]:
    """The active user an access token names, and its expiry; AuthenticationFailed otherwise.

    Uses simplejwt's own validation (signature, expiry, token type, active user), so the
    socket accepts exactly the tokens the REST API accepts.
    """
    authentication = JWTAuthentication()
    validated = authentication.get_validated_token(raw_token.encode())
    user = authentication.get_user(validated)
    return user, float(validated["exp"])


class WebSocketAuthMiddleware:
    """ASGI middleware resolving ``scope["user"]`` for WebSocket connections (see module doc)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] != "websocket":
            return await self.inner(scope, receive, send)
        headers = _headers(scope)
        offered = list(scope.get("subprotocols") or [])
        scope = dict(
            scope,
            subprotocols=[p for p in offered if not p.startswith(BEARER_SUBPROTOCOL_PREFIX)],
        )
        token = bearer_from_header(headers.get(b"authorization")) or bearer_from_subprotocols(
            offered
        )
        if token is not None:
            scope.update(await self._token_scope(token))
        else:
            scope.update(await self._cookie_scope(headers))
        return await self.inner(scope, receive, send)

    async def _token_scope(self, token: str) -> dict[str, Any]:
        try:
            user, expires_at = await database_sync_to_async(user_for_access_token)(token)
        except AuthenticationFailed:
            return {
                "user": AnonymousUser(),
                "auth": ANONYMOUS,
                "auth_failure": AUTH_FAILURE_INVALID_TOKEN,
            }
        return {"user": user, "auth": AuthInfo(method="jwt", expires_at=expires_at)}

    async def _cookie_scope(self, headers: dict[bytes, bytes]) -> dict[str, Any]:
        cookies = parse_cookie(headers.get(b"cookie", b"").decode("latin1"))
        session_key = cookies.get(settings.SESSION_COOKIE_NAME)
        if not session_key:
            return {"user": AnonymousUser(), "auth": ANONYMOUS}
        if not origin_allowed(headers):
            return {
                "user": AnonymousUser(),
                "auth": ANONYMOUS,
                "auth_failure": AUTH_FAILURE_FOREIGN_ORIGIN,
            }
        # The same resolution as channels' AuthMiddlewareStack (session hash verified, backend
        # checked), without wrapping ``send``: a handshake never writes the session.
        session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
        user = await get_user({"session": session})
        if not user.is_authenticated:
            return {"user": user, "auth": ANONYMOUS, "session": session}
        return {
            "user": user,
            "auth": AuthInfo(method="session", session_key=session_key),
            "session": session,
        }
