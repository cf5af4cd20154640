"""Small HTTP middleware of the project."""

import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponse


class TimedResponseMiddleware:
    """Base of middleware that look at each response and how long it took.

    Works in both modes: Django keeps the middleware chain async under ASGI only when every
    middleware can run async; one sync-only middleware makes each request hop from the event
    loop to a thread, back to the loop and to a thread again for the view.
    """

    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        response = self.get_response(request)
        self.finish(request, response, time.perf_counter() - started)
        return response

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = await self.get_response(request)
        self.finish(request, response, time.perf_counter() - started)
        return response

    def finish(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        raise NotImplementedError


class ServerTimingMiddleware(TimedResponseMiddleware):
    """Adds ``Server-Timing: app;dur=<ms>`` so clients and benchmarks can tell server time
    from network and client time."""

    def finish(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        response["Server-Timing"] = f"app;dur={seconds * 1000:.2f}"
