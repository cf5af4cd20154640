"""The JSON parser of every REST endpoint (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES).

DRF's ``JSONParser`` with three limits it lacks, each answered with the error envelope
(docs/api.md, "Errors"):

* a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` bytes answers 413 ``body_too_large`` (DRF reads
  the request stream itself, so Django's own check of that setting never sees JSON bodies);
* arrays or objects nested deeper than ``core.jsonlimits.MAX_JSON_DEPTH`` answer 400
  ``json_too_deep`` instead of a 500 from a ``RecursionError``;
* a string holding a lone UTF-16 surrogate (``"\\ud800"``) answers 400 ``invalid_unicode``:
  no UTF-8 can carry it, so it would fail later in the database or a cache key's digest.
"""

from typing import Any

from django.conf import settings
from rest_framework import exceptions, parsers, status
from rest_framework.utils import json as drf_json

from .jsonlimits import JSONTooDeep, has_lone_surrogate, loads_bounded


class RequestBodyTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large."
    default_code = "body_too_large"


def body_too_large(limit: int | None) -> RequestBodyTooLarge:
    if limit is None:
        return RequestBodyTooLarge()
    return RequestBodyTooLarge(f"Request body is too large: the limit is {limit} bytes.")


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        limit: int | None = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        body = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(body) > limit:
            raise body_too_large(limit)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        parse_constant = drf_json.strict_constant if self.strict else None
        try:
            text = body.decode(encoding)
            data = loads_bounded(text, parse_constant=parse_constant)
        except JSONTooDeep as error:
            raise exceptions.ParseError(str(error), code="json_too_deep") from None
        except ValueError as error:  # includes UnicodeDecodeError
            raise exceptions.ParseError(f"JSON parse error - {error}") from None
        if has_lone_surrogate(text, data):
            raise exceptions.ParseError(
                "JSON strings must be valid Unicode: a \\u escape names a lone surrogate.",
                code="invalid_unicode",
            )
        return data
