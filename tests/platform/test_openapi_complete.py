"""Every API operation is documented in the OpenAPI schema.

Walks the URL conf itself (not drf-spectacular's own endpoint list): every route under
``/api/v1/`` with every method its view answers must be an operation of the generated
schema; an operation that takes a body documents it; each has a 2xx response with a schema
(204 excepted); and schema generation raises no error for any view. A failure names every
undocumented operation at once.
"""

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.http import HttpResponse
from django.urls import ResolverMatch, URLPattern, URLResolver, get_resolver, include, path, resolve
from django.urls.exceptions import Resolver404
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

API_PREFIX = "api/v1/"
BODY_METHODS = {"POST", "PUT", "PATCH"}
IGNORED_METHODS = {"HEAD", "OPTIONS", "TRACE"}
PATH_PARAMETER_SAMPLES = (str(uuid.uuid4()), "1", "sample")


def _join(route: str, sub_route: str) -> str:
    """Join two routes the way Django's resolver does (``ResolverMatch.route``)."""
    return sub_route if not route else route + sub_route.removeprefix("^")


def walk_urlconf(patterns: list[Any], prefix: str = "") -> Iterator[tuple[str, URLPattern]]:
    for pattern in patterns:
        route = _join(prefix, str(pattern.pattern))
        if isinstance(pattern, URLResolver):
            yield from walk_urlconf(pattern.url_patterns, route)
        else:
            yield route, pattern


def view_name(callback: Any) -> str:
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    return view_class.__name__ if view_class else getattr(callback, "__name__", repr(callback))


def view_methods(callback: Any) -> set[str]:
    """The HTTP methods the view behind ``callback`` answers."""
    actions = getattr(callback, "actions", None)
    if actions:  # a ViewSet's route: {method: action}
        return {method.upper() for method in actions} - IGNORED_METHODS
    view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
    if view_class is None:  # a function view: not introspectable, so not documentable
        return {"ANY"}
    return {
        method.upper() for method in view_class.http_method_names if hasattr(view_class, method)
    } - IGNORED_METHODS


def resolve_schema_path(path: str) -> ResolverMatch | None:
    """The URL conf match of a schema path (resolving it with sample parameters)."""
    for sample in PATH_PARAMETER_SAMPLES:
        concrete = path
        while "{" in concrete:
            start = concrete.index("{")
            end = concrete.index("}", start)
            concrete = concrete[:start] + sample + concrete[end + 1 :]
        try:
            return resolve(concrete)
        except Resolver404:
            continue
    return None


def generate_schema() -> tuple[dict, list[str]]:
    """The schema as ``/api/schema`` serves it, and drf-spectacular's errors (per view)."""
    GENERATOR_STATS.reset()
    with GENERATOR_STATS.silence():
        schema = SchemaGenerator().get_schema(request=None, public=True)
    errors = sorted(GENERATOR_STATS._error_cache)
    GENERATOR_STATS.reset()
    return schema, errors


def undocumented_operations(schema: dict) -> list[str]:
    """Routes x methods of the URL conf under /api/v1/ that the schema lacks."""
    documented: set[tuple[str, str]] = set()
    problems = []
    for schema_path, operations in schema["paths"].items():
        match = resolve_schema_path(schema_path)
        if match is None:
            problems.append(f"schema path {schema_path} resolves to no route")
            continue
        documented |= {(match.route, method.upper()) for method in operations}
    for route, pattern in walk_urlconf(get_resolver().url_patterns):
        if not route.startswith(API_PREFIX):
            continue
        for method in sorted(view_methods(pattern.callback)):
            if (route, method) not in documented:
                problems.append(
                    f"{method} /{route}  ({view_name(pattern.callback)}): not in schema"
                )
    return problems


def incomplete_operations(schema: dict, errors: list[str]) -> list[str]:
    """Operations without a 2xx response schema, or taking an undocumented body."""
    problems = []
    for schema_path, operations in schema["paths"].items():
        if not schema_path.startswith("/" + API_PREFIX):
            continue
        match = resolve_schema_path(schema_path)
        view = view_name(match.func) if match else schema_path
        for method, operation in operations.items():
            method = method.upper()
            responses = operation.get("responses", {})
            successes = {code: body for code, body in responses.items() if str(code)[0] == "2"}
            if not successes:
                problems.append(f"{method} {schema_path} ({view}): no 2xx response")
            for code, body in successes.items():
                if str(code) == "204":
                    continue
                if not any(entry.get("schema") for entry in (body.get("content") or {}).values()):
                    problems.append(
                        f"{method} {schema_path} ({view}): {code} response has no schema"
                    )
            # Without a requestBody, a write is fine only if its view documents "no body"
            # explicitly; an undocumented one makes generation report an error for it.
            view_errors = [error for error in errors if f"[{view}" in error]
            if method in BODY_METHODS and "requestBody" not in operation and view_errors:
                problems.append(f"{method} {schema_path} ({view}): request body not documented")
    return problems


@pytest.fixture(scope="module")
def generated():
    return generate_schema()


def test_every_api_route_and_method_is_an_operation_of_the_schema(generated):
    schema, _ = generated
    routes = [route for route, _ in walk_urlconf(get_resolver().url_patterns)]
    assert sum(route.startswith(API_PREFIX) for route in routes) > 10, "the walk found no API"
    problems = undocumented_operations(schema)
    assert not problems, "operations missing from the OpenAPI schema:\n" + "\n".join(problems)


def test_every_operation_documents_its_request_body_and_a_2xx_response_schema(generated):
    schema, errors = generated
    problems = incomplete_operations(schema, errors)
    assert not problems, "incomplete operations:\n" + "\n".join(problems)


def test_schema_generation_reports_no_error_for_any_view(generated):
    _, errors = generated
    assert not errors, "drf-spectacular could not document:\n" + "\n".join(errors)


def test_the_api_documents_its_bearer_token_scheme(generated):
    schema, _ = generated
    assert schema["components"]["securitySchemes"]["jwtAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    operation = schema["paths"]["/api/v1/interactions/"]["post"]
    assert {"jwtAuth": []} in operation["security"]


# --- The checks themselves catch what they should ------------------------------------------


class UndocumentedWriteApi(APIView):
    def post(self, request):
        return Response({"ok": True})


class DocumentedWriteApi(APIView):
    @extend_schema(
        request=inline_serializer("ProbeIn", {"name": serializers.CharField()}),
        responses={201: inline_serializer("ProbeOut", {"id": serializers.IntegerField()})},
    )
    def post(self, request):
        return Response({"id": 1}, status=201)


def plain_django_view(request):
    return HttpResponse("not DRF")


class ProbeUrls:
    urlpatterns = [
        path(
            "api/v1/",
            include(
                [
                    path("documented", DocumentedWriteApi.as_view()),
                    path("undocumented", UndocumentedWriteApi.as_view()),
                    path("plain", plain_django_view),
                ]
            ),
        )
    ]


def test_the_checks_name_an_undocumented_body_and_a_view_missing_from_the_schema(settings):
    settings.ROOT_URLCONF = ProbeUrls
    schema, errors = generate_schema()
    problems = undocumented_operations(schema) + incomplete_operations(schema, errors)
    text = "\n".join(problems)
    assert "POST /api/v1/undocumented (UndocumentedWriteApi): request body not documented" in text
    assert "ANY /api/v1/plain  (plain_django_view): not in schema" in text
    assert "DocumentedWriteApi" not in text
    assert any("UndocumentedWriteApi" in error for error in errors)
