"""Every API operation, called as its owner, as another user and anonymously.

The matrix must name every operation the URL conf serves under /api/v1/: a new route
without an entry fails `test_every_api_operation_has_a_matrix_entry`.
"""

from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from lore.services import document_create
from scenarios.services import scenario_create
from tests.conftest import client_for
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory

PUBLIC = {"token-obtain", "token-refresh", "health"}


@dataclass
class World:
    owner: Any
    ecosystem: Any
    first: Any
    second: Any
    scenario: Any
    document: Any


@dataclass(frozen=True)
class Entry:
    path: str  # formatted with the World's ids
    body: dict | None = None
    owner: tuple[int, ...] = (200,)
    # Another user: 404 on someone else's object; lists answer 200 without the owner's rows.
    other: tuple[int, ...] = (404,)
    anonymous: tuple[int, ...] = (401,)


def _ids(world: World) -> dict[str, str]:
    return {
        "ecosystem": str(world.ecosystem.pk),
        "first": str(world.first.pk),
        "second": str(world.second.pk),
        "scenario": str(world.scenario.pk),
        "document": str(world.document.pk),
    }


CHARACTER_BODY = {
    "ecosystem": "{ecosystem}",
    "name": "New",
    "openness": 0.5,
    "conscientiousness": 0.5,
    "extraversion": 0.5,
    "agreeableness": 0.5,
    "neuroticism": 0.5,
}

DOCUMENT_BODY = {"title": "Tides", "content": "The tide turns at noon."}

MATRIX: dict[tuple[str, str], Entry] = {
    ("ecosystem-documents", "get"): Entry("/api/v1/ecosystem/{ecosystem}/documents"),
    ("ecosystem-documents", "post"): Entry(
        "/api/v1/ecosystem/{ecosystem}/documents", DOCUMENT_BODY, (201,)
    ),
    ("ecosystem-document-detail", "get"): Entry(
        "/api/v1/ecosystem/{ecosystem}/documents/{document}"
    ),
    ("ecosystem-document-detail", "put"): Entry(
        "/api/v1/ecosystem/{ecosystem}/documents/{document}", DOCUMENT_BODY
    ),
    ("ecosystem-document-detail", "patch"): Entry(
        "/api/v1/ecosystem/{ecosystem}/documents/{document}", {"title": "Renamed"}
    ),
    ("ecosystem-document-detail", "delete"): Entry(
        "/api/v1/ecosystem/{ecosystem}/documents/{document}", None, (204,)
    ),
    ("document-detail", "get"): Entry("/api/v1/documents/{document}"),
    ("document-detail", "put"): Entry("/api/v1/documents/{document}", DOCUMENT_BODY),
    ("document-detail", "patch"): Entry("/api/v1/documents/{document}", {"title": "Renamed"}),
    ("document-detail", "delete"): Entry("/api/v1/documents/{document}", None, (204,)),
    ("lore-search", "get"): Entry("/api/v1/ecosystem/{ecosystem}/search?q=harbour&k=3"),
    ("character-memories", "get"): Entry("/api/v1/characters/{first}/memories"),
    ("token-obtain", "post"): Entry(
        "/api/v1/auth/token", {"username": "x", "password": "y"}, (401,), (401,), (401,)
    ),
    ("token-refresh", "post"): Entry(
        "/api/v1/auth/token/refresh", {"refresh": "garbage"}, (401,), (401,), (401,)
    ),
    # Public; 503 when a service (say, no Celery worker in this test) does not answer.
    ("health", "get"): Entry("/api/v1/health", None, (200, 503), (200, 503), (200, 503)),
    ("ecosystem-list", "get"): Entry("/api/v1/ecosystems", None, (200,), (200,)),
    ("ecosystem-list", "post"): Entry("/api/v1/ecosystems", {"name": "Mine"}, (201,), (201,)),
    ("ecosystem-detail", "get"): Entry("/api/v1/ecosystems/{ecosystem}"),
    ("ecosystem-detail", "put"): Entry("/api/v1/ecosystems/{ecosystem}", {"name": "Renamed"}),
    ("ecosystem-detail", "patch"): Entry("/api/v1/ecosystems/{ecosystem}", {"name": "Renamed"}),
    ("ecosystem-detail", "delete"): Entry("/api/v1/ecosystems/{ecosystem}", None, (204,)),
    ("character-list", "get"): Entry("/api/v1/characters", None, (200,), (200,)),
    # A foreign ecosystem id reads as an invalid choice: 400, and nothing is created.
    ("character-list", "post"): Entry("/api/v1/characters", CHARACTER_BODY, (201,), (400,)),
    ("character-detail", "get"): Entry("/api/v1/characters/{first}"),
    ("character-detail", "put"): Entry("/api/v1/characters/{first}", CHARACTER_BODY),
    ("character-detail", "patch"): Entry("/api/v1/characters/{first}", {"bio": "Edited"}),
    ("character-detail", "delete"): Entry("/api/v1/characters/{first}", None, (204,)),
    ("character-relationships", "get"): Entry("/api/v1/relationships/{first}"),
    # Multipart with no file: the owner gets 400 naming "file"; nothing is created.
    ("character-import", "post"): Entry(
        "/api/v1/ecosystem/{ecosystem}/characters/import", None, (400,)
    ),
    ("ecosystem-lorebook", "get"): Entry("/api/v1/ecosystem/{ecosystem}/lorebook"),
    ("ecosystem-lorebook", "post"): Entry(
        "/api/v1/ecosystem/{ecosystem}/lorebook",
        {"entries": {"0": {"key": ["tide"], "content": "The tide turns."}}},
        (201,),
    ),
    ("ecosystem-archive", "get"): Entry("/api/v1/ecosystems/{ecosystem}/archive"),
    # Not tied to an object: with no file, everyone signed in gets 400 naming "file".
    ("ecosystem-import", "post"): Entry("/api/v1/ecosystems/import", None, (400,), (400,)),
    ("character-card-json", "get"): Entry("/api/v1/characters/{first}/card.json"),
    ("character-card-png", "get"): Entry("/api/v1/characters/{first}/card.png"),
    # A character made without a card has no avatar: 404 for its owner too.
    ("character-avatar", "get"): Entry("/api/v1/characters/{first}/avatar", None, (404,)),
    ("character-network", "get"): Entry("/api/v1/characters/{first}/network?depth=1"),
    ("ecosystem-path", "get"): Entry(
        "/api/v1/ecosystem/{ecosystem}/path?from={first}&to={second}", None, (200, 404)
    ),
    ("ecosystem-influence", "get"): Entry("/api/v1/ecosystem/{ecosystem}/influence"),
    ("interaction-create", "post"): Entry(
        "/api/v1/interactions",
        {"initiator_id": "{first}", "target_id": "{second}", "type": "chat", "content": "Hi"},
        (201,),
    ),
    ("scenario-create", "post"): Entry(
        "/api/v1/ecosystem/{ecosystem}/scenario",
        {
            "title": "T",
            "setting": "S",
            "mood": "calm",
            "objectives": ["talk"],
            "character_ids": ["{first}", "{second}"],
            "duration_minutes": 5,
        },
        (201,),
    ),
    ("scenario-list", "get"): Entry("/api/v1/ecosystem/{ecosystem}/scenarios"),
    ("ecosystem-dashboard", "get"): Entry("/api/v1/ecosystem/{ecosystem}/dashboard"),
    ("ecosystem-graph", "get"): Entry("/api/v1/ecosystem/{ecosystem}/graph"),
    ("ecosystem-events", "get"): Entry("/api/v1/ecosystem/{ecosystem}/events?since=0"),
    ("scenario-detail", "get"): Entry("/api/v1/scenarios/{scenario}"),
    ("scenario-pause", "post"): Entry("/api/v1/scenarios/{scenario}/pause", {}),
    ("scenario-resume", "post"): Entry("/api/v1/scenarios/{scenario}/resume", {}),
    ("scenario-end", "post"): Entry("/api/v1/scenarios/{scenario}/end", {}),
    ("scenario-mode", "post"): Entry("/api/v1/scenarios/{scenario}/mode", {"mode": "observer"}),
    ("scenario-mode", "patch"): Entry("/api/v1/scenarios/{scenario}/mode", {"mode": "observer"}),
    ("scenario-messages", "get"): Entry("/api/v1/scenarios/{scenario}/messages"),
    ("scenario-messages", "post"): Entry(
        "/api/v1/scenarios/{scenario}/messages", {"content": "Hello all"}, (201,)
    ),
}


def _api_operations() -> set[tuple[str, str]]:
    operations: set[tuple[str, str]] = set()

    def walk(patterns: list, prefix: str) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern) and prefix.startswith("api/v1/"):
                callback = pattern.callback
                actions = getattr(callback, "actions", None)
                if actions:
                    methods = set(actions) - {"head", "options"}
                else:
                    view_class = callback.view_class  # type: ignore[attr-defined]
                    methods = {
                        method
                        for method in view_class.http_method_names
                        if method not in ("options", "head", "trace")
                        and hasattr(view_class, method)
                    }
                operations.update((pattern.name, method) for method in methods)

    walk(get_resolver().url_patterns, "")
    return operations


def test_every_api_operation_has_a_matrix_entry():
    served = _api_operations()
    assert served - set(MATRIX) == set(), "add these operations to MATRIX"
    assert set(MATRIX) - served == set(), "MATRIX names operations that are not served"


@pytest.fixture
def world(db) -> World:
    owner = UserFactory()
    ecosystem = EcosystemFactory(owner=owner)
    traits = dict(
        openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.2
    )
    first = CharacterFactory(ecosystem=ecosystem, name="First", **traits)
    second = CharacterFactory(ecosystem=ecosystem, name="Second", **traits)
    scenario = scenario_create(
        ecosystem=ecosystem,
        participants=[first, second],
        title="Matrix",
        setting="",
        mood="calm",
        objectives=[],
        duration_minutes=10,
        tick_seconds=3600,
        seed=1,
        mode="participant",
    )
    document = document_create(ecosystem=ecosystem, title="Harbour", content="The harbour.")
    return World(owner, ecosystem, first, second, scenario, document)


def _fill(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [_fill(item, ids) for item in value]
    if isinstance(value, dict):
        return {key: _fill(item, ids) for key, item in value.items()}
    return value


def _call(client: Any, method: str, entry: Entry, ids: dict[str, str]) -> int:
    path = entry.path.format(**ids)
    body = _fill(entry.body, ids)
    response = (
        getattr(client, method)(path, body, format="json")
        if body is not None
        else getattr(client, method)(path)
    )
    return int(response.status_code)


@pytest.mark.parametrize(("operation", "entry"), list(MATRIX.items()), ids=lambda v: str(v))
def test_operation_as_owner_other_user_and_anonymous(world, operation, entry, anonymous):
    from rest_framework.test import APIClient

    _, method = operation
    ids = _ids(world)
    if operation[0] not in PUBLIC:
        assert _call(APIClient(), method, entry, ids) in entry.anonymous
    else:
        assert _call(anonymous, method, entry, ids) in entry.anonymous
    other_status = _call(client_for(UserFactory()), method, entry, ids)
    assert other_status in entry.other, f"another user got {other_status}"
    owner_status = _call(client_for(world.owner), method, entry, ids)
    assert owner_status in entry.owner, f"the owner got {owner_status}"
