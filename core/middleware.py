"""Small HTTP middleware of the project."""

import time
from abc import ABC, abstractmethod
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

from .outage import (
    DATABASE_RETRY_AFTER_SECONDS,
    DATABASE_UNAVAILABLE_CODE,
    database_unavailable_reason,
)


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


class DatabaseUnavailableMiddleware:
    """A view (a page, the admin, /metrics) whose database connection failed answers 503
    with ``Retry-After`` instead of 500 (``core.outage``; the API's views answer through
    ``core.api.exception_handler`` the same way, as JSON)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        reason = database_unavailable_reason(exception)
        if reason is None:
            return None
        if request.path.startswith("/api/"):
            response: HttpResponse = JsonResponse(
                {"detail": reason, "code": DATABASE_UNAVAILABLE_CODE}, status=503
            )
        else:
            response = HttpResponse(
                f"Service unavailable: {reason}\n",
                status=503,
                content_type="text/plain; charset=utf-8",
            )
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
        return response


class ApiNotFoundMiddleware:
    """A path under ``/api/`` that matches no route (an id the URL pattern refuses, a typo)
    answers the API's JSON error envelope, 404 ``not_found``, not Django's HTML page: every
    API response is JSON (docs/api.md, "Errors"; found by the long fuzz profile)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            response.status_code == 404
            and request.path.startswith("/api/")
            and response.get("Content-Type", "").startswith("text/html")
        ):
            return JsonResponse({"detail": "Not found.", "code": "not_found"}, status=404)
        return response
