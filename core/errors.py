"""The one family of domain errors services raise; `core.api` maps them to HTTP."""


class ApplicationError(Exception):
    """A broken domain rule. ``code`` is machine-readable, the message is for a person."""

    status_code = 400
    default_code = "invalid"

    def __init__(self, message: str, *, code: str | None = None, extra: dict | None = None):
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status_code = 404
    default_code = "not_found"


class ConflictError(ApplicationError):
    """The request is well formed but the current state refuses it (HTTP 409)."""

    status_code = 409
    default_code = "conflict"


class ServiceUnavailableError(ApplicationError):
    status_code = 503
    default_code = "service_unavailable"
