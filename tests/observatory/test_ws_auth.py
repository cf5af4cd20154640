"""WebSocket handshake: credentials, Origin, close codes and revocation, through the real ASGI
application with its auth middleware."""

import asyncio
import json
import time
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from rest_framework_simplejwt.tokens import AccessToken

from ecosystem_project.asgi import application
from observatory import consumers
from tests.conftest import token_for
from tests.factories import EcosystemFactory, UserFactory

pytestmark = pytest.mark.django_db(transaction=True)


def ws_path(ecosystem_id, query: str = "") -> str:
    return f"/ws/ecosystem/{ecosystem_id}/" + (f"?{query}" if query else "")


def bearer_headers(token: str) -> list[tuple[bytes, bytes]]:
    return [(b"authorization", f"Bearer {token}".encode())]


def session_cookie_for(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def cookie_headers(session_key: str, origin: str | None, host: str = "testserver"):
    headers = [
        (b"host", host.encode()),
        (b"cookie", f"{settings.SESSION_COOKIE_NAME}={session_key}".encode()),
    ]
    if origin is not None:
        headers.append((b"origin", origin.encode()))
    return headers


async def next_frame(communicator: WebsocketCommunicator, timeout: float = 3) -> dict:
    return json.loads(await communicator.receive_from(timeout))


async def refusal(communicator: WebsocketCommunicator) -> tuple[int, str]:
    """Connect, expect an error frame then a close; answer (close code, error detail)."""
    connected, _ = await communicator.connect()
    assert connected, "application close codes need an accepted socket"
    error = await next_frame(communicator)
    assert error["type"] == "error"
    closing = await communicator.receive_output(3)
    assert closing["type"] == "websocket.close"
    assert closing["code"] == error["code"]
    return closing["code"], error["detail"]


async def wait_for_close(communicator: WebsocketCommunicator, timeout: float) -> tuple[int, float]:
    """Skip frames until the server closes; answer (code, seconds waited)."""
    started = time.monotonic()
    while True:
        output = await communicator.receive_output(timeout)
        if output["type"] == "websocket.close":
            return output["code"], time.monotonic() - started


def close_code_for(path: str, **communicator_kwargs) -> tuple[int, str]:
    async def scenario():
        communicator = WebsocketCommunicator(application, path, **communicator_kwargs)
        try:
            return await refusal(communicator)
        finally:
            await communicator.disconnect()

    return async_to_sync(scenario)()


def opens(path: str, **communicator_kwargs) -> tuple[str | None, dict]:
    """Connect; answer (the echoed subprotocol, the first frame)."""

    async def scenario():
        communicator = WebsocketCommunicator(application, path, **communicator_kwargs)
        try:
            connected, subprotocol = await communicator.connect()
            assert connected
            return subprotocol, await next_frame(communicator)
        finally:
            await communicator.disconnect()

    return async_to_sync(scenario)()


# --- Credentials ------------------------------------------------------------------------------


def test_bearer_header_opens_the_stream(user, ecosystem):
    subprotocol, first = opens(ws_path(ecosystem.pk), headers=bearer_headers(token_for(user)))
    assert subprotocol is None
    assert first == {"type": "heartbeat", "last_seq": 0}


def test_bearer_subprotocol_opens_and_only_ecosystem_v1_is_echoed(user, ecosystem):
    subprotocol, first = opens(
        ws_path(ecosystem.pk), subprotocols=[f"bearer.{token_for(user)}", "ecosystem.v1"]
    )
    assert subprotocol == "ecosystem.v1"
    assert first["type"] == "heartbeat"


def test_missing_credentials_close_4401(ecosystem):
    code, detail = close_code_for(ws_path(ecosystem.pk), subprotocols=["ecosystem.v1"])
    assert code == 4401
    assert "authentication" in detail


def test_refusal_still_echoes_ecosystem_v1_so_browsers_see_the_code(ecosystem):
    async def scenario():
        communicator = WebsocketCommunicator(
            application, ws_path(ecosystem.pk), subprotocols=["ecosystem.v1"]
        )
        try:
            return await communicator.connect()
        finally:
            await communicator.disconnect()

    assert async_to_sync(scenario)() == (True, "ecosystem.v1")


def test_token_in_the_query_string_is_ignored(user, ecosystem):
    code, _ = close_code_for(ws_path(ecosystem.pk, f"token={token_for(user)}"))
    assert code == 4401


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_invalid_token_closes_4401(ecosystem, token):
    code, _ = close_code_for(
        ws_path(ecosystem.pk), subprotocols=["ecosystem.v1", f"bearer.{token}"]
    )
    assert code == 4401


def test_expired_token_closes_4401(user, ecosystem):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=-1))
    code, detail = close_code_for(ws_path(ecosystem.pk), headers=bearer_headers(str(token)))
    assert (code, detail) == (4401, "invalid or expired token")


def test_token_of_an_inactive_user_closes_4401(user, ecosystem):
    token = token_for(user)
    user.is_active = False
    user.save()
    code, _ = close_code_for(ws_path(ecosystem.pk), headers=bearer_headers(token))
    assert code == 4401


def test_invalid_token_does_not_fall_back_to_the_session_cookie(user, ecosystem):
    headers = [
        *cookie_headers(session_cookie_for(user), "http://testserver"),
        (b"authorization", b"Bearer garbage"),
    ]
    code, _ = close_code_for(ws_path(ecosystem.pk), headers=headers)
    assert code == 4401


# --- Ownership and bad input --------------------------------------------------------------------


def test_another_users_ecosystem_closes_4403(other_user, ecosystem):
    code, _ = close_code_for(ws_path(ecosystem.pk), headers=bearer_headers(token_for(other_user)))
    assert code == 4403


def test_unknown_ecosystem_closes_4404(user):
    code, _ = close_code_for(
        ws_path("3f1e3c43-7a4e-4f05-9d4f-0c4c2f1d2b10"), headers=bearer_headers(token_for(user))
    )
    assert code == 4404


def test_malformed_ecosystem_id_closes_4404(user):
    code, _ = close_code_for(ws_path("not-a-uuid"), headers=bearer_headers(token_for(user)))
    assert code == 4404


@pytest.mark.parametrize("since", ["-1", "abc", "1.5", "", "99999999999999999999", "1e3"])
def test_malformed_since_closes_4400_with_a_reason(user, ecosystem, since):
    code, detail = close_code_for(
        ws_path(ecosystem.pk, f"since={since}"), headers=bearer_headers(token_for(user))
    )
    assert code == 4400
    assert "since" in detail


def test_since_given_twice_closes_4400(user, ecosystem):
    code, _ = close_code_for(
        ws_path(ecosystem.pk, "since=1&since=2"), headers=bearer_headers(token_for(user))
    )
    assert code == 4400


def test_unauthenticated_is_refused_before_the_ecosystem_is_looked_at(user):
    code, _ = close_code_for(ws_path("not-a-uuid", "since=-1"))
    assert code == 4401


# --- Session cookie and Origin ------------------------------------------------------------------


def test_session_cookie_from_the_same_origin_opens(user, ecosystem):
    headers = cookie_headers(session_cookie_for(user), origin="http://testserver")
    _, first = opens(ws_path(ecosystem.pk), headers=headers)
    assert first["type"] == "heartbeat"


def test_session_cookie_from_a_foreign_origin_closes_4403(user, ecosystem):
    headers = cookie_headers(session_cookie_for(user), origin="https://evil.example")
    code, detail = close_code_for(ws_path(ecosystem.pk), headers=headers)
    assert (code, detail) == (4403, "origin not allowed")


def test_session_cookie_without_origin_closes_4403(user, ecosystem):
    code, _ = close_code_for(
        ws_path(ecosystem.pk), headers=cookie_headers(session_cookie_for(user), origin=None)
    )
    assert code == 4403


def test_session_cookie_from_a_listed_origin_opens(user, ecosystem, settings):
    settings.WS_ALLOWED_ORIGINS = ["https://observatory.example"]
    headers = cookie_headers(session_cookie_for(user), origin="https://observatory.example")
    _, first = opens(ws_path(ecosystem.pk), headers=headers)
    assert first["type"] == "heartbeat"


def test_session_cookie_from_a_csrf_trusted_origin_opens(user, ecosystem, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.example.org"]
    headers = cookie_headers(session_cookie_for(user), origin="https://app.example.org")
    _, first = opens(ws_path(ecosystem.pk), headers=headers)
    assert first["type"] == "heartbeat"


def test_unknown_session_closes_4401(ecosystem):
    headers = cookie_headers("no-such-session", origin="http://testserver")
    code, _ = close_code_for(ws_path(ecosystem.pk), headers=headers)
    assert code == 4401


def test_session_cookie_for_another_users_ecosystem_closes_4403(other_user, ecosystem):
    headers = cookie_headers(session_cookie_for(other_user), origin="http://testserver")
    code, _ = close_code_for(ws_path(ecosystem.pk), headers=headers)
    assert code == 4403


# --- Revocation while open ----------------------------------------------------------------------


def revoked_close(ecosystem_id, revoke, **communicator_kwargs) -> tuple[int, float]:
    """Open a stream, run ``revoke`` (sync, in the database thread), wait for the close."""

    async def scenario():
        communicator = WebsocketCommunicator(
            application, ws_path(ecosystem_id), **communicator_kwargs
        )
        try:
            connected, _ = await communicator.connect()
            assert connected
            assert (await next_frame(communicator))["type"] == "heartbeat"
            await database_sync_to_async(revoke)()
            return await wait_for_close(communicator, timeout=settings.WS_REVALIDATE_SECONDS + 3)
        finally:
            await communicator.disconnect()

    return async_to_sync(scenario)()


def test_ecosystem_given_to_another_user_closes_4403_within_the_revalidate_period(
    user, other_user, ecosystem
):
    def give_away():
        ecosystem.owner = other_user
        ecosystem.save(update_fields=["owner"])

    code, waited = revoked_close(ecosystem.pk, give_away, headers=bearer_headers(token_for(user)))
    assert code == 4403
    assert waited <= settings.WS_REVALIDATE_SECONDS + 1


def test_deactivated_user_is_closed_4403(user, ecosystem):
    def deactivate():
        user.is_active = False
        user.save(update_fields=["is_active"])

    code, _ = revoked_close(ecosystem.pk, deactivate, headers=bearer_headers(token_for(user)))
    assert code == 4403


def test_deleted_ecosystem_closes_the_stream(user, ecosystem):
    code, _ = revoked_close(ecosystem.pk, ecosystem.delete, headers=bearer_headers(token_for(user)))
    assert code == 4403


def test_logged_out_session_closes_4401(user, ecosystem):
    session_key = session_cookie_for(user)

    def log_out():
        from importlib import import_module

        import_module(settings.SESSION_ENGINE).SessionStore(session_key).delete()

    code, _ = revoked_close(
        ecosystem.pk, log_out, headers=cookie_headers(session_key, origin="http://testserver")
    )
    assert code == 4401


def test_stream_closes_4401_when_the_token_expires(user, ecosystem):
    token = AccessToken.for_user(user)
    token.set_exp(lifetime=timedelta(seconds=2))
    code, waited = revoked_close(ecosystem.pk, lambda: None, headers=bearer_headers(str(token)))
    assert code == 4401
    assert waited <= 3


def test_open_connections_are_counted(user, ecosystem):
    headers = bearer_headers(token_for(user))

    async def scenario():
        before = consumers.open_connection_count()
        communicator = WebsocketCommunicator(application, ws_path(ecosystem.pk), headers=headers)
        await communicator.connect()
        during = consumers.open_connection_count()
        await communicator.disconnect()
        await asyncio.sleep(0)
        return before, during, consumers.open_connection_count()

    before, during, after = async_to_sync(scenario)()
    assert during == before + 1
    assert after == before


def test_other_ecosystems_of_the_same_owner_stay_separate(user):
    first, second = EcosystemFactory(owner=user), EcosystemFactory(owner=UserFactory())
    _, frame = opens(ws_path(first.pk), headers=bearer_headers(token_for(user)))
    assert frame["type"] == "heartbeat"
    code, _ = close_code_for(ws_path(second.pk), headers=bearer_headers(token_for(user)))
    assert code == 4403
