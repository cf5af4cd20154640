"""Django's ASGI handler, with each request's synchronous part run in one hop to a fixed
pool of threads.

The stock handler runs the middleware chain as coroutines; every middleware written as
``MiddlewareMixin`` (Security, Session, Common, Csrf, Authentication, Messages,
XFrameOptions) then calls each of its hooks through ``sync_to_async``: about a dozen hops
between the event loop and the request's thread around a sync view. It also starts a
thread for every request (the thread of its ``ThreadSensitiveContext``) and joins it
afterwards.

This handler reads the body and sends the response on the event loop as Django does, and
makes one hop in between, to a thread of a pool that lives as long as the process
(``HTTP_THREADS``, made as concurrency asks): ``request_started``, the middleware chain and
the view, then ``request_finished`` (which gives the database connection back) when the
response is already in memory. Measured on POST /api/v1/interactions (bench_interactions):
the one hop took server time p50 from 12.0 to 9.7 ms; the pool took the two-process rate
from 212 to 239/s.

What Django's handler does besides, kept where it matters:
- A streaming response gives the view's thread its connections back when the view returns,
  is sent in a ``ThreadSensitiveContext`` of its own (a thread is started only for a body
  made by synchronous code: a ``FileResponse``, a sync iterator), stops when the client
  disconnects (an endless stream would never end), and is closed (``request_finished``)
  in that context after it is sent. A ``FileResponse`` is read in blocks of the handler's
  chunk size, as Django sets it.
- A client that disconnects while the view runs does not cancel it (a thread cannot be
  cancelled; under the stock handler the view runs to its end too). A response in memory is
  then sent anyway and Daphne drops it: listening for the disconnect on every request cost
  more than that.

The handler reads Django's handler internals (``read_body``, ``create_request``,
``send_response``, ``chunk_size``): ``FAST_HTTP_HANDLER`` (core.fast_paths) chooses it, and
``http_handler_class`` answers Django's ``ASGIHandler`` when it is off or they are gone.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.conf import settings
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers import asgi as django_asgi
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.db import close_old_connections
from django.http import FileResponse, HttpResponseBase
from django.urls import set_script_prefix

from core import fast_paths


def _missing_internals() -> list[str]:
    return [
        *fast_paths.missing_attributes(
            ASGIHandler,
            ["read_body", "create_request", "send_response", "chunk_size", "load_middleware"],
        ),
        *fast_paths.missing_attributes(django_asgi, ["get_script_prefix"]),
        *fast_paths.missing_attributes(FileResponse, ["block_size"]),
    ]


POOLED_HTTP_HANDLER = fast_paths.FastPath(
    setting="FAST_HTTP_HANDLER",
    description="The pooled HTTP handler (ecosystem_project.asgi_http)",
    stock="Django's ASGIHandler",
    missing_internals=_missing_internals,
)


def http_handler_class() -> type[ASGIHandler]:
    """The HTTP handler class of this process (asgi.py)."""
    return SyncChainASGIHandler if fast_paths.enabled(POOLED_HTTP_HANDLER) else ASGIHandler


class SyncChainASGIHandler(ASGIHandler):
    def __init__(self) -> None:
        super().__init__()
        self._threads = ThreadPoolExecutor(settings.HTTP_THREADS, thread_name_prefix="http")
        self._respond_in_pool = sync_to_async(
            self._respond, thread_sensitive=False, executor=self._threads
        )

    def load_middleware(self, is_async: bool = False) -> None:
        super().load_middleware(is_async=False)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            raise ValueError(f"Django can only handle ASGI/HTTP connections, not {scope['type']}.")
        await self.handle(scope, receive, send)

    async def handle(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        try:
            # Should this task be cancelled, asgiref still waits for the thread to finish.
            response = await self._respond_in_pool(scope, body_file)
            if response.streaming:
                # Thread-sensitive calls while streaming (a sync iterator read, the close that
                # sends request_finished) share a thread of this request's, as in Django.
                async with ThreadSensitiveContext():
                    try:
                        await self._stream_until_disconnect(response, send, receive)
                    finally:
                        await sync_to_async(response.close)()
            else:
                # Already in memory and finished: sent whole, even to a client that has gone
                # (Daphne drops it); listening for that would cost more than it saves.
                await self.send_response(response, send)
        finally:
            body_file.close()

    async def _stream_until_disconnect(
        self, response: HttpResponseBase, send: Any, receive: Any
    ) -> None:
        """Send a streaming response, and stop if the client goes away (an endless stream
        would never end otherwise), as Django's disconnect listener does."""
        sending = asyncio.create_task(self.send_response(response, send))
        disconnect = asyncio.create_task(self._disconnect(receive))
        try:
            await asyncio.wait({sending, disconnect}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            sending.cancel()
            disconnect.cancel()
            await asyncio.gather(sending, disconnect, return_exceptions=True)
        if not sending.cancelled():
            sending.result()  # the server's error on sending, if any
        elif not disconnect.cancelled():
            disconnect.result()  # the server's error on receiving, if any

    async def _disconnect(self, receive: Any) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass  # nothing else is expected after the body; wait for the end

    def _respond(self, scope: dict[str, Any], body_file: Any) -> HttpResponseBase:
        set_script_prefix(get_script_prefix(scope))
        signals.request_started.send(sender=self.__class__, scope=scope)
        request, error_response = self.create_request(scope, body_file)
        response = self.get_response(request) if request is not None else error_response
        assert response is not None
        # The sender of request_finished, as Django's handlers set it.
        response._handler_class = self.__class__  # type: ignore[attr-defined]
        if isinstance(response, FileResponse):
            # As Django's handler: the server cuts the body into frames, read it in big blocks.
            response.block_size = self.chunk_size
        if response.streaming:
            # Its body is read later, elsewhere; this thread's connections go back now.
            close_old_connections()
        else:
            response.close()  # request_finished, in the thread that used the connections
        return response
