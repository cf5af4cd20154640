"""core.fast_paths: each fast path that reads private internals is taken only when its setting
is on and the installed packages still have what it reads; otherwise the stock path, with one
warning naming what is missing."""

import functools
import json
import logging
import os
from collections import deque

import autobahn.util
import pytest
from asgiref.sync import AsyncToSync
from autobahn.twisted.websocket import WebSocketServerProtocol
from channels.layers import get_channel_layer
from channels_redis.pubsub import RedisPubSubLoopLayer
from django.core.handlers.asgi import ASGIHandler
from django.http import FileResponse
from twisted.internet import abstract

from core import fast_paths
from ecosystem_project import asgi_http
from eventlog import services as eventlog_services
from observatory import fanout_daphne
from tests.subprocesses import python_output

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(autouse=True)
def fresh_decisions(monkeypatch):
    monkeypatch.setattr(fanout_daphne, "_connection_checked", False)
    monkeypatch.setattr(eventlog_services, "_publishers", {})
    monkeypatch.setattr(autobahn.util, "_HAS_CLICK", True)
    fast_paths.forget_decisions()
    yield
    fast_paths.forget_decisions()


def fence_warnings(caplog) -> list[str]:
    return [
        record.getMessage()
        for record in caplog.records
        if record.name == "core.fast_paths" and record.levelno == logging.WARNING
    ]


def test_every_fast_path_is_on_with_the_installed_versions(caplog, settings):
    settings.FAST_HTTP_HANDLER = settings.FAST_WS_DIRECT_WRITE = True
    settings.FAST_BROADCAST_PUBLISH = True

    assert asgi_http.http_handler_class() is asgi_http.SyncChainASGIHandler
    assert fast_paths.enabled(fanout_daphne.DIRECT_WRITE)
    assert fast_paths.enabled(eventlog_services.BROADCAST_PUBLISH)
    assert fence_warnings(caplog) == []


def test_the_internals_are_checked_once_per_process_and_warned_about_once(caplog, settings):
    settings.FAST_HTTP_HANDLER = True
    checks: list[int] = []

    def missing() -> list[str]:
        checks.append(1)
        return ["somewhere.Thing._gone"]

    path = fast_paths.FastPath("FAST_HTTP_HANDLER", "A fast path", "the stock path", missing)

    assert [fast_paths.enabled(path) for _ in range(3)] == [False, False, False]
    assert len(checks) == 1
    assert len(fence_warnings(caplog)) == 1
    assert "somewhere.Thing._gone" in fence_warnings(caplog)[0]


def test_http_handler_without_a_django_internal_is_djangos_own_with_one_warning(
    caplog, settings, monkeypatch
):
    settings.FAST_HTTP_HANDLER = True
    monkeypatch.delattr(ASGIHandler, "read_body")
    monkeypatch.delattr(FileResponse, "block_size")

    assert asgi_http.http_handler_class() is ASGIHandler
    assert asgi_http.http_handler_class() is ASGIHandler

    [warning] = fence_warnings(caplog)
    assert "django.core.handlers.asgi.ASGIHandler.read_body" in warning
    assert "django.http.response.FileResponse.block_size" in warning
    assert "FAST_HTTP_HANDLER" in warning


def test_http_handler_setting_off_is_djangos_own_without_a_warning(caplog, settings):
    settings.FAST_HTTP_HANDLER = False

    assert asgi_http.http_handler_class() is ASGIHandler
    assert fence_warnings(caplog) == []


def handle_reply(protocol, message):  # the name of Daphne's send callable
    raise AssertionError("not called")


def open_connection() -> WebSocketServerProtocol:
    """An autobahn protocol as Daphne hands it over, with what a connection sets."""
    protocol = WebSocketServerProtocol()
    protocol.state = WebSocketServerProtocol.STATE_OPEN
    protocol._perMessageCompress = None
    protocol.send_queue = deque()
    return protocol


def test_direct_write_takes_a_daphne_connection_when_the_internals_are_there(caplog, settings):
    settings.FAST_WS_DIRECT_WRITE = True
    protocol = open_connection()

    assert fanout_daphne.daphne_protocol(functools.partial(handle_reply, protocol)) is protocol
    fanout_daphne.quiet_autobahn_debug_arguments()
    assert autobahn.util._HAS_CLICK is False
    assert fence_warnings(caplog) == []


def test_direct_write_without_a_twisted_internal_leaves_the_consumer_its_send(
    caplog, settings, monkeypatch
):
    settings.FAST_WS_DIRECT_WRITE = True
    monkeypatch.delattr(abstract.FileDescriptor, "_writeDisconnected")
    protocol = open_connection()

    assert fanout_daphne.daphne_protocol(functools.partial(handle_reply, protocol)) is None
    assert fanout_daphne.daphne_protocol(functools.partial(handle_reply, protocol)) is None
    fanout_daphne.quiet_autobahn_debug_arguments()
    assert autobahn.util._HAS_CLICK is True  # left alone

    [warning] = fence_warnings(caplog)
    assert "twisted.internet.tcp.Server._writeDisconnected" in warning
    assert "FAST_WS_DIRECT_WRITE" in warning


def test_direct_write_checks_a_connections_own_attributes_at_the_first_connection(caplog, settings):
    settings.FAST_WS_DIRECT_WRITE = True
    protocol = open_connection()
    del protocol.send_queue  # as if autobahn had renamed it

    assert fanout_daphne.daphne_protocol(functools.partial(handle_reply, protocol)) is None
    assert fanout_daphne.daphne_protocol(functools.partial(handle_reply, open_connection())) is None

    [warning] = fence_warnings(caplog)
    assert "autobahn.twisted.websocket.WebSocketServerProtocol.send_queue" in warning


def test_direct_write_setting_off_leaves_the_consumer_its_send(caplog, settings):
    settings.FAST_WS_DIRECT_WRITE = False

    assert fanout_daphne.daphne_protocol(functools.partial(handle_reply, open_connection())) is None
    fanout_daphne.quiet_autobahn_debug_arguments()
    assert autobahn.util._HAS_CLICK is True
    assert fence_warnings(caplog) == []


@pytest.fixture
def pubsub_layer(settings):
    settings.CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL]},
        }
    }
    return get_channel_layer()


def is_group_send(publisher) -> bool:
    return isinstance(publisher, AsyncToSync)


def test_broadcast_publishes_itself_to_the_pubsub_layer_when_the_internals_are_there(
    caplog, settings, pubsub_layer
):
    settings.FAST_BROADCAST_PUBLISH = True

    assert not is_group_send(eventlog_services._group_publisher(pubsub_layer))
    assert fence_warnings(caplog) == []


def test_broadcast_without_the_layers_naming_goes_through_group_send_with_one_warning(
    caplog, settings, monkeypatch, pubsub_layer
):
    settings.FAST_BROADCAST_PUBLISH = True
    monkeypatch.setattr(
        RedisPubSubLoopLayer,
        "_get_group_channel_name",
        lambda self, group: f"{group}@{self.prefix}",
    )

    assert is_group_send(eventlog_services._group_publisher(pubsub_layer))
    assert is_group_send(eventlog_services._group_publisher(pubsub_layer))

    [warning] = fence_warnings(caplog)
    assert "_get_group_channel_name" in warning
    assert "FAST_BROADCAST_PUBLISH" in warning


def test_broadcast_without_the_layers_own_configuration_goes_through_group_send(
    caplog, settings, monkeypatch, pubsub_layer
):
    settings.FAST_BROADCAST_PUBLISH = True
    monkeypatch.delattr(pubsub_layer, "_kwargs")

    assert is_group_send(eventlog_services._group_publisher(pubsub_layer))

    [warning] = fence_warnings(caplog)
    assert "RedisPubSubChannelLayer._kwargs" in warning


def test_broadcast_setting_off_goes_through_group_send(caplog, settings, pubsub_layer):
    settings.FAST_BROADCAST_PUBLISH = False

    assert is_group_send(eventlog_services._group_publisher(pubsub_layer))
    assert fence_warnings(caplog) == []


def fast_settings(**environment: str) -> dict[str, bool]:
    """The FAST_* settings a process started with this environment reads."""
    names = ["FAST_HTTP_HANDLER", "FAST_WS_DIRECT_WRITE", "FAST_BROADCAST_PUBLISH"]
    script = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{name: getattr(settings, name) for name in {names!r}}}))"
    )
    inherited = {key: value for key, value in os.environ.items() if not key.startswith("FAST_")}
    output = python_output(
        script,
        env={
            **inherited,
            "DJANGO_SETTINGS_MODULE": "ecosystem_project.settings.base",
            **environment,
        },
    )
    return json.loads(output)


def test_the_settings_come_from_the_environment_with_one_master_switch():
    assert set(fast_settings().values()) == {True}
    assert set(fast_settings(FAST_PATHS="off").values()) == {False}
    assert set(fast_settings(FAST_PATHS="off", FAST_HTTP_HANDLER="on").values()) == {False}
    assert fast_settings(FAST_WS_DIRECT_WRITE="off") == {
        "FAST_HTTP_HANDLER": True,
        "FAST_WS_DIRECT_WRITE": False,
        "FAST_BROADCAST_PUBLISH": True,
    }
