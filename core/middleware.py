"""Small HTTP middleware of the project."""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class TimedResponseMiddleware(ABC):
    """Base of middleware that look at each response and how long it took (``finish``).

    Synchronous only: the ASGI entry (``asgi_http``) runs the whole chain in the request's
    thread, so an async mode would never be used.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        self.finish(request, response, time.perf_counter() - started)
        return response

    @abstractmethod
    def finish(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        """Called with each response and the seconds the rest of the chain took."""


class ServerTimingMiddleware(TimedResponseMiddleware):
    """Adds ``Server-Timing: app;dur=<ms>`` so clients and benchmarks can tell server time
    from network and client time."""

    def finish(self, request: HttpRequest, response: HttpResponse, seconds: float) -> None:
        response["Server-Timing"] = f"app;dur={seconds * 1000:.2f}"
