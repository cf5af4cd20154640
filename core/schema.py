"""The OpenAPI schema says what the API does: drf-spectacular postprocessing, in one place.

``declare_errors`` (SPECTACULAR_SETTINGS["POSTPROCESSING_HOOKS"]) adds to every operation
the error answers its view can give, so no view has to list them (a view's own
declaration of a code wins); each is the error envelope ``Error`` of
``core.api.exception_handler`` (docs/api.md, "Errors"):

* 400 when the operation takes a body or query parameters (validation, malformed JSON);
* 401 when the view authenticates (no or a bad token; an AllowAny view that authenticates
  still refuses a bad token), and on the token views (wrong credentials, a bad refresh
  token);
* 404 when the path names an object (another user's is 404 too);
* 413 when it takes a body (over ``DATA_UPLOAD_MAX_MEMORY_SIZE``);
* 429 on writes of a view with a throttle scope (``core.throttling``).

409 and 503 stay with the views that raise them. The request body of a serializer with
``core.serializers.StrictSerializerMixin`` gets ``additionalProperties: false``: those
refuse unknown (and read-only) fields with 400; every plain string of a request body says it
takes no NUL character (DRF refuses it with 400), and one that is trimmed and may not be
blank that it needs a character other than white space. A serializer's ``required_any_of`` (field
names) becomes ``anyOf`` required: one of them must be given (a field and its alias).
"""

from typing import Any

from rest_framework import serializers
from rest_framework_simplejwt.views import TokenViewBase

from .serializers import StrictSerializerMixin

ERROR_COMPONENT = "Error"
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "Every error: a message, a machine-readable code, and for a validation "
    "error the messages per field.",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {
            "description": "Validation errors: a list of messages per field (nested for "
            "nested fields).",
        },
    },
    "required": ["detail", "code"],
}
DESCRIPTIONS = {
    "400": "Invalid input: a field, a query parameter or the JSON itself (`code` says which).",
    "401": "No valid credentials: a missing, malformed or expired token.",
    "404": "No such object for this user (another user's object is 404 too).",
    "413": "The body is larger than the limit (`body_too_large`).",
    "429": "Too many requests; retry after the `Retry-After` header's seconds.",
}
WRITE_METHODS = {"post", "put", "patch", "delete"}
# DRF's CharField refuses a NUL character (400 "Null characters are not allowed."): the
# request schemas say so on every plain string (found by the long fuzz profile).
NO_NUL_PATTERN = "^[^\\u0000]*$"
# A CharField that trims (DRF's default) and refuses blank takes no string of white space
# alone either: it is blank once trimmed (400 "may not be blank").
NOT_BLANK_PATTERN = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _string_rules(schema: dict[str, Any], field: Any) -> None:
    """The NUL and blank rules of a request string (or of a list's strings) in its schema."""
    if schema.get("type") == "string" and not {"format", "enum", "pattern"} & set(schema):
        trimmed = (
            isinstance(field, serializers.CharField)
            and field.trim_whitespace
            and not field.allow_blank
        )
        schema["pattern"] = NOT_BLANK_PATTERN if trimmed else NO_NUL_PATTERN
    elif schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        _string_rules(schema["items"], getattr(field, "child", None))


def _is_strict(serializer: Any) -> bool:
    cls = serializer if isinstance(serializer, type) else type(serializer)
    return issubclass(cls, StrictSerializerMixin)


def _throttled(view: Any) -> bool:
    for throttle in view.get_throttles():
        scope_of = getattr(throttle, "scope_of", None)
        if scope_of is not None and scope_of(view):
            return True
    return False


def _error_codes(operation: dict[str, Any], method: str, view: Any) -> list[str]:
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    codes = []
    if has_body or any(p.get("in") == "query" for p in parameters):
        codes.append("400")
    if view is not None and (view.get_authenticators() or isinstance(view, TokenViewBase)):
        codes.append("401")  # the token views answer 401 to wrong credentials or tokens
    if any(p.get("in") == "path" for p in parameters):
        codes.append("404")
    if has_body:
        codes.append("413")
    if view is not None and method in WRITE_METHODS and _throttled(view):
        codes.append("429")
    return codes


def declare_errors(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict:
    views = {
        ("/" + path.lstrip("/"), method.lower()): view
        for path, _regex, method, view in generator._get_paths_and_endpoints()
    }
    reference = {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}
    used = False
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            view = views.get((path, method))
            for code in _error_codes(operation, method, view):
                if code not in operation["responses"]:
                    operation["responses"][code] = {
                        "content": {"application/json": {"schema": reference}},
                        "description": DESCRIPTIONS[code],
                    }
                    used = True
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    if used:  # a view's own "Error" (detail and code) is a subset: one schema for both
        schemas[ERROR_COMPONENT] = ERROR_SCHEMA
    for (name, kind), component in generator.registry._components.items():
        if kind == "schemas" and name in schemas and component.object is not None:
            if not name.endswith("Request"):
                continue
            serializer = component.object
            serializer = serializer() if isinstance(serializer, type) else serializer
            fields = getattr(getattr(serializer, "child", serializer), "fields", {})
            for field_name, field_schema in schemas[name].get("properties", {}).items():
                _string_rules(field_schema, fields.get(field_name))
            if _is_strict(component.object):
                schemas[name]["additionalProperties"] = False
            alternatives = getattr(component.object, "required_any_of", None)
            if alternatives:
                schemas[name]["anyOf"] = [{"required": [field]} for field in alternatives]
    return result
