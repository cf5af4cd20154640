"""Schemathesis over every operation of the OpenAPI schema, against the real app.

The requests go through Django's WSGI handler in this process (the same URL conf,
middleware, authentication, throttles and services as Daphne serves), as a user holding a
JWT, with real data: an ecosystem, three characters, a relationship, a running scenario and a lore
document.
Generated path and query ids are swapped for those real ones most of the time (a fixed
rule on the generated value, so a seed replays), so operations reach their real code and
not only the 404 of an unknown id; the rest keep the random id and must answer 404. Ids in
valid bodies are always real ones (an id of nothing is a 400, not a valid request).

Every response must: not be 5xx (a 503 is allowed only where the schema declares it: a
graph query without Neo4j); have a status code the operation documents; conform to the
documented schema and content type; and a request the schema calls invalid must be refused
(4xx), a valid one not refused with 400 (schemathesis' checks: ``not_a_server_error``,
``status_code_conformance``, ``response_schema_conformance``, ``negative_data_rejection``,
``positive_data_acceptance`` ...).

Each example runs inside a savepoint that is rolled back, so a DELETE of the ecosystem in
one example leaves the next one the same world.

Profiles (docs/operations.md, "Fuzzing"): ``FUZZ_EXAMPLES`` examples per operation and
generation mode (valid and invalid), 4 in ``make test``; ``make fuzz`` runs 200.
``FUZZ_SEED`` fixes the seed (default 17).
"""

import logging
import os
import re
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core import signals
from django.core.handlers.wsgi import WSGIHandler
from django.db import close_old_connections, transaction
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error, positive_data_acceptance

from characters.models import Character
from interactions.services import interaction_process
from lore.services import document_create
from scenarios.services import scenario_create
from tests.conftest import token_for
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory

FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "4"))
FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "17"))

TRAITS = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.7, agreeableness=0.7, neuroticism=0.3
)

STATS: dict[str, Any] = {"cases": 0, "statuses": Counter()}


def _takes_real_id(value: Any) -> bool:
    """Most generated UUIDs are replaced by a real id: a fixed rule on the value (its first
    hex digit), so the same seed makes the same requests."""
    if isinstance(value, int) and not isinstance(value, bool):  # integer ids (documents)
        return value % 4 != 0
    try:
        return uuid.UUID(str(value)).hex[0] not in "cdef"
    except ValueError:
        return False


class World:
    """The real data the requests reach."""

    def __init__(self) -> None:
        self.user = UserFactory()
        self.token = token_for(self.user)
        self.ecosystem = EcosystemFactory(owner=self.user, name="Fuzz town")
        self.characters = [
            CharacterFactory(ecosystem=self.ecosystem, name=name, **TRAITS)
            for name in ("Mira", "Tobias", "Ines")
        ]
        interaction_process(
            owner=self.user,
            initiator_id=self.characters[0].pk,
            target_id=self.characters[1].pk,
            interaction_type="greeting",
            content="Hello there.",
        )
        self.document = document_create(
            ecosystem=self.ecosystem,
            title="The harbour",
            content="The harbour freezes in winter. Boats wait at the quay for the thaw.",
        )
        self.scenario = scenario_create(
            ecosystem=self.ecosystem,
            participants=self.characters[:2],
            title="Harbor market",
            duration_minutes=30,
            mode="participant",
        )

    def path_id(self, name: str, path: str, value: Any) -> Any:
        if not _takes_real_id(value):
            return value
        if name == "ecosystem_id" or (name == "id" and path.startswith("/api/v1/ecosystems/")):
            return str(self.ecosystem.pk)
        if name == "character_id" or (name == "id" and path.startswith("/api/v1/characters/")):
            return str(self.characters[0].pk)
        if name == "scenario_id":
            return str(self.scenario.pk)
        if name == "document_id":
            return str(self.document.pk)
        return value

    def fill(self, case: schemathesis.Case) -> None:
        """Real ids in the path, the query and (for valid bodies) the body."""
        for name, value in (case.path_parameters or {}).items():
            case.path_parameters[name] = self.path_id(name, case.operation.path, value)
        query = case.query or {}
        for name in ("ecosystem",):
            if name in query and _takes_real_id(query[name]):
                query[name] = str(self.ecosystem.pk)
        for position, name in enumerate(("from", "to")):
            if name in query and _takes_real_id(query[name]):
                query[name] = str(self.characters[position].pk)
        if not case.meta or not case.meta.generation.mode.is_positive:
            return
        # A valid body names real objects: an id of nothing is refused (400 "does not
        # exist") however well-formed, so references in valid bodies are always real ones.
        body = case.body
        if not isinstance(body, dict):
            return
        if "ecosystem" in body:
            body["ecosystem"] = str(self.ecosystem.pk)
        for position, name in enumerate(("initiator_id", "target_id")):
            if name in body:
                body[name] = str(self.characters[position].pk)
        ids = body.get("character_ids")
        if isinstance(ids, list) and ids:
            body["character_ids"] = [str(c.pk) for c in self.characters[: max(2, len(ids))]]
        if body.get("target_character_id") is not None:
            body["target_character_id"] = str(self.characters[0].pk)


@pytest.fixture
def fuzz_world(db) -> Iterator[World]:
    # Thousands of 4xx: Django's "Bad Request: ..." warnings would drown the output.
    request_logger = logging.getLogger("django.request")
    level = request_logger.level
    request_logger.setLevel(logging.ERROR + 10)
    # Django's test client does the same: a request must not close the connection that
    # holds the test's transaction (close_old_connections would, outside autocommit).
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        yield World()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        request_logger.setLevel(level)


def _uploads_a_file(operation: Any) -> bool:
    """Whether the operation's request body is a form with a binary file."""
    content = operation.definition.raw.get("requestBody", {}).get("content", {})
    form = content.get("multipart/form-data", {}).get("schema", {})
    if "$ref" in form:
        form = operation.schema.raw_schema["components"]["schemas"][form["$ref"].rsplit("/", 1)[1]]
    return any(field.get("format") == "binary" for field in form.get("properties", {}).values())


def _fuzz_operation(operation: Any, mode: GenerationMode, world: World) -> Any:
    """A hypothesis test of one operation in one generation mode."""
    # A token per operation and mode: one for the whole run expired after JWT_ACCESS_MINUTES
    # (5), and the long profile's later operations then only ever saw 401.
    headers = {"Authorization": f"Bearer {token_for(world.user)}"}

    # A file upload (a card, an archive) takes bytes the schema can only call "binary": bytes
    # that satisfy it are not a card or an archive, so "valid" uploads are refused with 400
    # by design. Their contents are tried by the format tests (tests/worlds); here they are
    # held to every other check.
    excluded = [not_a_server_error]
    if _uploads_a_file(operation):
        excluded.append(positive_data_acceptance)

    @hypothesis_seed(FUZZ_SEED)
    @settings(
        max_examples=FUZZ_EXAMPLES,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],  # no shrinking: report the first failure
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        world.fill(case)
        with transaction.atomic():
            # A 5xx is judged below: 503 only where documented (a service that is absent).
            response = case.call_and_validate(headers=headers, excluded_checks=excluded)
            transaction.set_rollback(True)
        STATS["cases"] += 1
        STATS["statuses"][response.status_code] += 1
        documented = case.operation.definition.raw.get("responses", {})
        assert response.status_code < 500 or (
            response.status_code == 503 and "503" in documented
        ), f"{response.status_code} from {case.method} {case.formatted_path}: {response.text[:500]}"

    return run


@pytest.mark.timeout(600 + 40 * FUZZ_EXAMPLES)  # the long profile runs about an hour
def test_every_operation_answers_as_documented(fuzz_world: World) -> None:
    """Zero 5xx (503 only where documented), every status documented, every body as its
    schema says, invalid requests refused and valid ones accepted, over every operation."""
    started = time.monotonic()
    api_schema = schemathesis.openapi.from_wsgi("/api/schema", WSGIHandler())
    failures: list[str] = []
    operations = 0
    for result in api_schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, fuzz_world)()
            except Unsatisfiable:
                continue  # nothing invalid to send (an operation without parameters)
            except (Exception, BaseExceptionGroup) as error:  # every failure is reported at the end
                failures.append(f"{operation.label} [{mode.value}]: {str(error)[:2000]}")
    statuses = ", ".join(f"{code}: {n}" for code, n in sorted(STATS["statuses"].items()))
    print(
        f"\nfuzz: {operations} operations, {STATS['cases']} cases, {len(failures)} failures, "
        f"{FUZZ_EXAMPLES} examples per operation and mode, seed {FUZZ_SEED}, "
        f"{time.monotonic() - started:.1f} s; statuses {statuses}"
    )
    assert operations >= 30
    assert not failures, "\n\n".join(failures)


# --- What the fuzzing found, kept as plain regressions ----------------------------------


def test_a_number_for_a_string_field_is_refused(api) -> None:
    response = api.post("/api/v1/ecosystems", {"name": "Port", "description": 0}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"description": ["Must be a string."]}


def test_a_boolean_for_a_number_field_is_refused(api, ecosystem) -> None:
    response = api.post(
        "/api/v1/characters",
        {"ecosystem": str(ecosystem.pk), "name": "Ada", "energy": False},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {"energy": ["Must be a number."]}
    assert not Character.objects.filter(name="Ada").exists()


def test_a_put_without_the_required_ecosystem_is_refused(api, pair) -> None:
    character = pair[0]
    body = {"name": "Renamed", "bio": "x"}
    response = api.put(f"/api/v1/characters/{character.pk}", body, format="json")
    assert response.status_code == 400
    assert "ecosystem" in response.json()["errors"]
    character.refresh_from_db()
    assert character.name == "Mira"


def test_a_put_with_its_own_ecosystem_is_accepted_and_another_refused(api, user, pair) -> None:
    character = pair[0]
    url = f"/api/v1/characters/{character.pk}"
    body = {"name": "Renamed", "ecosystem": str(character.ecosystem_id)}
    assert api.put(url, body, format="json").status_code == 200
    other = EcosystemFactory(owner=user)
    moved = api.put(url, {**body, "ecosystem": str(other.pk)}, format="json")
    assert moved.status_code == 400
    assert moved.json()["errors"] == {
        "ecosystem": ["A character cannot move to another ecosystem."]
    }
    character.refresh_from_db()
    assert (character.name, character.ecosystem_id) == ("Renamed", pair[1].ecosystem_id)


def test_unknown_and_read_only_body_fields_are_refused_and_the_schema_says_so(api) -> None:
    response = api.post("/api/v1/ecosystems", {"name": "Port", "colour": "red"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"colour": ["Unknown field."]}
    response = api.post("/api/v1/ecosystems", {"name": "Port", "last_seq": 9}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"last_seq": ["Read-only field."]}
    components = api.get("/api/schema", HTTP_ACCEPT="application/json").json()["components"]
    for name in ("EcosystemRequest", "CharacterRequest", "InteractionInputRequest"):
        assert components["schemas"][name]["additionalProperties"] is False


def test_a_nul_character_is_refused_and_the_schema_says_so(api) -> None:
    response = api.post("/api/v1/ecosystems", {"name": "Po\x00rt"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["Null characters are not allowed."]}
    components = api.get("/api/schema", HTTP_ACCEPT="application/json").json()["components"]
    schemas = components["schemas"]
    patterns = [
        schemas["EcosystemRequest"]["properties"]["name"]["pattern"],
        schemas["TokenRefreshRequest"]["properties"]["refresh"]["pattern"],
        schemas["CharacterRequest"]["properties"]["greetings"]["items"]["pattern"],
        schemas["CharacterRequest"]["properties"]["bio"]["pattern"],
    ]
    for pattern in patterns:
        assert re.search(pattern, "Port") and not re.search(pattern, "Po\x00rt"), pattern


def test_a_string_of_white_space_alone_is_blank_and_the_schema_says_so(api) -> None:
    response = api.post("/api/v1/ecosystems", {"name": " \x1f\t"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["This field may not be blank."]}
    schemas = api.get("/api/schema", HTTP_ACCEPT="application/json").json()["components"]["schemas"]
    name = schemas["EcosystemRequest"]["properties"]["name"]["pattern"]
    assert not re.search(name, " \x1f\t") and re.search(name, " Port ")
    bio = schemas["CharacterRequest"]["properties"]["bio"]["pattern"]  # may be blank
    assert re.search(bio, "  ")


def test_every_operation_declares_the_errors_it_answers(api) -> None:
    paths = api.get("/api/schema", HTTP_ACCEPT="application/json").json()["paths"]
    character = paths["/api/v1/characters/{id}/"]
    assert {"400", "401", "404", "413"} <= set(character["put"]["responses"])
    assert {"401", "404"} <= set(character["get"]["responses"])
    assert "429" in paths["/api/v1/interactions/"]["post"]["responses"]
    assert "401" in paths["/api/v1/auth/token/"]["post"]["responses"]
