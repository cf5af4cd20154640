"""ecosystem_project.asgi_http: each request's synchronous part in one hop to a fixed pool
of threads, with Django's signals, streaming and error answers intact.

The handler is the one the settings choose (``http_handler_class``): the pooled one, or
Django's own under ``FAST_PATHS=off`` (``make test`` runs this module both ways); the tests of
the pool itself build it whichever is chosen."""

import asyncio
import json
import math
import threading
import time
from typing import Any

import pytest
from django.core import signals
from django.db import connection, connections
from django.http import FileResponse, HttpResponse, JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from rest_framework.views import APIView

from ecosystem_project.asgi_http import SyncChainASGIHandler, http_handler_class

seen: list[tuple[str, str]] = []
kept: dict[str, Any] = {}


def record(name: str) -> None:
    seen.append((name, threading.current_thread().name))


def slow_view(request):
    record("view")
    time.sleep(0.05)
    return JsonResponse({"thread": threading.current_thread().name})


def streaming_view(request):
    def parts():
        for index in range(3):
            record(f"part {index}")
            yield f"part {index};".encode()

    return StreamingHttpResponse(parts())


def endless_view(request):
    async def parts():
        try:
            while True:
                record("part")
                yield b"part;"
                await asyncio.sleep(0.01)
        finally:
            record("stream closed")

    return StreamingHttpResponse(parts())


@csrf_exempt
def echo_view(request):
    return HttpResponse(request.body, content_type="text/plain")


def failing_view(request):
    record("view")
    raise RuntimeError("the view failed")


class FailingAPIView(APIView):
    authentication_classes: list = []
    permission_classes: list = []

    def get(self, request):
        record("view")
        raise RuntimeError("the API view failed")


def database_view(request):
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    kept["connection"] = connections["default"]  # this thread's own wrapper
    record("view")
    time.sleep(0.1)  # the client goes away meanwhile
    return JsonResponse({"ok": True})


def file_view(request):
    response = FileResponse(kept["path"].open("rb"))  # the response closes it
    kept["file"] = response.file_to_stream
    kept["response"] = response
    return response


urlpatterns = [
    path("slow", slow_view),
    path("stream", streaming_view),
    path("endless", endless_view),
    path("echo", echo_view),
    path("fail", failing_view),
    path("api-fail", FailingAPIView.as_view()),
    path("database", database_view),
    path("file", file_view),
]


def on_started(sender, **kwargs):
    record("request_started")


def on_finished(sender, **kwargs):
    record("request_finished")


def on_exception(sender, **kwargs):
    record("got_request_exception")


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    seen.clear()
    kept.clear()
    signals.request_started.connect(on_started)
    signals.request_finished.connect(on_finished)
    signals.got_request_exception.connect(on_exception)
    with override_settings(HTTP_THREADS=3):
        yield http_handler_class()()
    signals.request_started.disconnect(on_started)
    signals.request_finished.disconnect(on_finished)
    signals.got_request_exception.disconnect(on_exception)


@pytest.fixture
def pooled_handler(handler):
    """The pooled handler itself, whichever the settings choose (its tests run both ways)."""
    return handler if isinstance(handler, SyncChainASGIHandler) else SyncChainASGIHandler()


async def exchange(
    handler, method: str, route: str, body: bytes = b"", disconnect_after: float | None = None
) -> list[dict]:
    """The messages the handler sends for one request. The client waits for its answer, or
    goes away ``disconnect_after`` seconds after sending the body. Fails instead of hanging."""
    scope: dict = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), (b"content-length", str(len(body)).encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict] = []

    async def receive() -> dict:
        if incoming:
            return incoming.pop()
        if disconnect_after is None:
            await asyncio.Event().wait()  # no disconnect: the client waits for its answer
        else:
            await asyncio.sleep(disconnect_after)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await asyncio.wait_for(handler(scope, receive, send), timeout=10)
    return sent


async def call(handler, method: str, route: str, body: bytes = b"") -> tuple[int, bytes, dict]:
    start, *bodies = await exchange(handler, method, route, body)
    return start["status"], b"".join(part.get("body", b"") for part in bodies), start


def test_a_request_runs_its_signals_and_view_in_one_thread_of_the_pool(pooled_handler):
    status, body, _ = asyncio.run(call(pooled_handler, "GET", "/slow"))

    assert status == 200
    names = [name for name, _ in seen]
    assert names == ["request_started", "view", "request_finished"]
    threads = {thread for _, thread in seen}
    assert threads == {json.loads(body)["thread"]}
    assert threads.pop().startswith("http")


def test_concurrent_requests_share_the_fixed_pool_of_threads(pooled_handler):
    async def many() -> list[tuple[int, bytes, dict]]:
        return await asyncio.gather(*(call(pooled_handler, "GET", "/slow") for _ in range(12)))

    started = time.perf_counter()
    answers = asyncio.run(many())
    elapsed = time.perf_counter() - started

    assert [status for status, _, _ in answers] == [200] * 12
    view_threads = {thread for name, thread in seen if name == "view"}
    assert len(view_threads) == 3  # HTTP_THREADS, reused: no thread per request
    assert elapsed >= 4 * 0.05  # 12 views of 50 ms on 3 threads: at least 4 rounds


# Django's own warning for a sync iterator served over ASGI; it serves it all the same.
@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_streaming_response_is_sent_whole_and_finished_after_its_last_part(handler):
    status, body, _ = asyncio.run(call(handler, "GET", "/stream"))

    assert status == 200
    assert body == b"part 0;part 1;part 2;"
    names = [name for name, _ in seen]
    assert names[0] == "request_started"
    assert names[-1] == "request_finished"
    assert names.index("part 2") < names.index("request_finished")


def test_the_body_reaches_the_view_and_an_unknown_host_answers_400(handler, settings):
    status, body, _ = asyncio.run(call(handler, "POST", "/echo", b"hello there"))
    assert (status, body) == (200, b"hello there")

    settings.ALLOWED_HOSTS = ["elsewhere.example"]
    status, _, _ = asyncio.run(call(handler, "GET", "/slow"))
    assert status == 400
    assert [name for name, _ in seen][-1] == "request_finished"


@pytest.mark.parametrize("route", ["/fail", "/api-fail"])
def test_a_view_that_raises_answers_500_and_signals_the_exception(handler, route):
    status, body, start = asyncio.run(call(handler, "GET", route))

    assert status == 500
    assert b"Server Error" in body  # Django's 500 page, not a traceback
    assert dict(start["headers"])[b"Content-Type"].startswith(b"text/html")
    names = [name for name, _ in seen]
    assert names == ["request_started", "view", "got_request_exception", "request_finished"]


@pytest.mark.django_db
def test_a_client_that_goes_away_mid_request_and_the_connection_is_still_given_back(
    handler, monkeypatch
):
    # Pooled connections (DATABASE_POOL) are given back by closing Django's wrapper of them.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)

    # Returns (no hang, no error). The pooled handler sends the finished response anyway (the
    # server drops it); Django's sends nothing.
    asyncio.run(exchange(handler, "GET", "/database", disconnect_after=0.02))

    names = [name for name, _ in seen]
    assert names[:2] == ["request_started", "view"]
    assert names[-1] == "request_finished"
    assert kept["connection"].connection is None  # closed: back to the pool

    status, _, _ = asyncio.run(call(handler, "GET", "/slow"))  # the handler carries on
    assert status == 200


def test_a_client_that_goes_away_ends_an_endless_stream(handler):
    sent = asyncio.run(exchange(handler, "GET", "/endless", disconnect_after=0.1))

    assert sent[0]["status"] == 200
    assert 1 < len(sent) < 100
    names = [name for name, _ in seen]
    assert "stream closed" in names
    assert names[-1] == "request_finished"


@pytest.mark.filterwarnings("ignore:StreamingHttpResponse must consume synchronous iterators")
def test_a_file_response_is_sent_whole_in_blocks_of_the_chunk_size_and_closed(handler, tmp_path):
    content = bytes(range(256)) * 800  # 200 KiB: several blocks
    kept["path"] = tmp_path / "download.bin"
    kept["path"].write_bytes(content)

    start, *bodies = asyncio.run(exchange(handler, "GET", "/file"))

    assert start["status"] == 200
    assert b"".join(message.get("body", b"") for message in bodies) == content
    assert kept["response"].block_size == handler.chunk_size
    chunks = [message["body"] for message in bodies if message.get("body")]
    assert len(chunks) == math.ceil(len(content) / handler.chunk_size)
    assert kept["file"].closed
    assert [name for name, _ in seen][-1] == "request_finished"
