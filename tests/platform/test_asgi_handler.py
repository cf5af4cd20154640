"""ecosystem_project.asgi_http: each request's synchronous part in one hop to a fixed pool
of threads, with Django's signals, streaming and error answers intact."""

import asyncio
import json
import threading
import time

import pytest
from django.core import signals
from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.test import override_settings
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from ecosystem_project.asgi_http import SyncChainASGIHandler

seen: list[tuple[str, str]] = []


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


@csrf_exempt
def echo_view(request):
    return HttpResponse(request.body, content_type="text/plain")


urlpatterns = [
    path("slow", slow_view),
    path("stream", streaming_view),
    path("echo", echo_view),
]


def on_started(sender, **kwargs):
    record("request_started")


def on_finished(sender, **kwargs):
    record("request_finished")


@pytest.fixture
def handler(settings):
    settings.ROOT_URLCONF = __name__
    settings.ALLOWED_HOSTS = ["testserver"]
    seen.clear()
    signals.request_started.connect(on_started)
    signals.request_finished.connect(on_finished)
    with override_settings(HTTP_THREADS=3):
        yield SyncChainASGIHandler()
    signals.request_started.disconnect(on_started)
    signals.request_finished.disconnect(on_finished)


async def call(handler, method: str, route: str, body: bytes = b"") -> tuple[int, bytes, dict]:
    scope = {
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
        await asyncio.Event().wait()  # no disconnect: the client waits for its answer
        raise AssertionError("unreachable")

    async def send(message: dict) -> None:
        sent.append(message)

    await handler(scope, receive, send)
    start, *bodies = sent
    return start["status"], b"".join(part.get("body", b"") for part in bodies), start


def test_a_request_runs_its_signals_and_view_in_one_thread_of_the_pool(handler):
    status, body, _ = asyncio.run(call(handler, "GET", "/slow"))

    assert status == 200
    names = [name for name, _ in seen]
    assert names == ["request_started", "view", "request_finished"]
    threads = {thread for _, thread in seen}
    assert threads == {json.loads(body)["thread"]}
    assert threads.pop().startswith("http")


def test_concurrent_requests_share_the_fixed_pool_of_threads(handler):
    async def many() -> list[tuple[int, bytes, dict]]:
        return await asyncio.gather(*(call(handler, "GET", "/slow") for _ in range(12)))

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
