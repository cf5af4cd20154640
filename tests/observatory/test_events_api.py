"""GET /api/v1/ecosystem/{id}/events?since=&limit= and the retention task."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from eventlog.models import Event
from eventlog.services import events_append
from eventlog.tasks import events_prune_task
from tests.factories import user_message_event

pytestmark = pytest.mark.django_db


def write_events(ecosystem_id, count: int) -> None:
    with transaction.atomic():
        events_append(
            ecosystem_id=ecosystem_id,
            events=[user_message_event(f"message {index}") for index in range(count)],
        )


def events_url(ecosystem_id, query: str = "") -> str:
    return f"/api/v1/ecosystem/{ecosystem_id}/events" + (f"?{query}" if query else "")


def test_pages_through_the_log_in_seq_order(api, ecosystem):
    write_events(ecosystem.pk, 250)
    seen: list[int] = []
    since, pages = 0, 0
    while True:
        response = api.get(events_url(ecosystem.pk, f"since={since}&limit=100"))
        assert response.status_code == 200
        body = response.json()
        pages += 1
        seen += [event["seq"] for event in body["events"]]
        assert body["last_seq"] == 250
        if not body["has_more"]:
            break
        since = body["next_since"]
    assert seen == list(range(1, 251))
    assert pages == 3
    assert body["next_since"] == 250


def test_answers_envelopes(api, ecosystem):
    write_events(ecosystem.pk, 1)
    body = api.get(events_url(ecosystem.pk)).json()
    [event] = body["events"]
    assert set(event) == {"seq", "type", "timestamp", "ecosystem_id", "data"}
    assert event["seq"] == 1
    assert event["type"] == "user_message"
    assert event["ecosystem_id"] == str(ecosystem.pk)
    assert event["data"] == user_message_event("message 0")[1]
    assert body == {"events": [event], "next_since": 1, "last_seq": 1, "has_more": False}


def test_defaults_to_since_0_and_100_events(api, ecosystem):
    write_events(ecosystem.pk, 101)
    body = api.get(events_url(ecosystem.pk)).json()
    assert [event["seq"] for event in body["events"]] == list(range(1, 101))
    assert body["has_more"] is True


def test_empty_page_keeps_since(api, ecosystem):
    write_events(ecosystem.pk, 3)
    body = api.get(events_url(ecosystem.pk, "since=3")).json()
    assert body == {"events": [], "next_since": 3, "last_seq": 3, "has_more": False}


def test_trailing_slash_is_optional(api, ecosystem):
    assert api.get(f"/api/v1/ecosystem/{ecosystem.pk}/events/").status_code == 200


def test_another_users_ecosystem_answers_404(other_api, ecosystem):
    write_events(ecosystem.pk, 2)
    response = other_api.get(events_url(ecosystem.pk))
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_another_users_ecosystem_answers_404_even_with_bad_parameters(other_api, ecosystem):
    assert other_api.get(events_url(ecosystem.pk, "since=-1")).status_code == 404


def test_unknown_or_malformed_ecosystem_answers_404(api):
    assert api.get(events_url("3f1e3c43-7a4e-4f05-9d4f-0c4c2f1d2b10")).status_code == 404
    assert api.get(events_url("not-a-uuid")).status_code == 404


def test_anonymous_answers_401(anonymous, ecosystem):
    assert anonymous.get(events_url(ecosystem.pk)).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("since=-1", "since"),
        ("since=abc", "since"),
        ("since=1.5", "since"),
        ("since=99999999999999999999", "since"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
    ],
)
def test_bad_since_or_limit_answers_400_saying_which(api, ecosystem, query, field):
    response = api.get(events_url(ecosystem.pk, query))
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"].startswith(f"{field}:")
    assert field in body["errors"]


def test_limit_1000_is_allowed(api, ecosystem):
    write_events(ecosystem.pk, 2)
    assert api.get(events_url(ecosystem.pk, "limit=1000")).status_code == 200


def test_never_shows_another_ecosystems_events(api, ecosystem, other_user):
    from tests.factories import EcosystemFactory

    theirs = EcosystemFactory(owner=other_user)
    write_events(theirs.pk, 5)
    write_events(ecosystem.pk, 2)
    body = api.get(events_url(ecosystem.pk)).json()
    assert {event["ecosystem_id"] for event in body["events"]} == {str(ecosystem.pk)}
    assert len(body["events"]) == 2


def test_prune_task_deletes_events_past_retention(ecosystem, settings):
    settings.EVENT_RETENTION_DAYS = 30
    write_events(ecosystem.pk, 4)
    Event.objects.filter(seq__lte=3).update(created=timezone.now() - timedelta(days=31))
    assert events_prune_task.apply().get() == 3
    assert list(Event.objects.values_list("seq", flat=True)) == [4]


def test_the_events_endpoint_is_in_the_openapi_schema(api):
    response = api.get("/api/schema", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    schema = response.json() if response["content-type"].startswith("application/json") else None
    if schema is None:
        import yaml

        schema = yaml.safe_load(response.content)
    paths = schema["paths"]
    path = next(p for p in paths if p.rstrip("/") == "/api/v1/ecosystem/{ecosystem_id}/events")
    operation = paths[path]["get"]
    assert {parameter["name"] for parameter in operation["parameters"]} >= {"since", "limit"}
    assert {"200", "400", "404"} <= set(operation["responses"])
