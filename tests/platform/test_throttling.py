"""Limits: the token endpoint under a flood, login attempts, and per-user write throttles.

Counters live in the real Redis cache; each test gets its own key prefix so runs and tests
never share counts. Windows are a day long here so no test straddles a window boundary.
"""

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from rest_framework.test import APIClient

from tests.conftest import client_for
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory

PASSWORD = "pass-word-123"
DAY = 86400
SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.9, agreeableness=0.7, neuroticism=0.2
)


@pytest.fixture(autouse=True)
def own_counters(settings):
    caches = {name: dict(config) for name, config in settings.CACHES.items()}
    caches["default"]["KEY_PREFIX"] = f"test-throttle-{uuid.uuid4().hex}"
    settings.CACHES = caches
    settings.LOGIN_ATTEMPT_WINDOW_SECONDS = DAY


def set_rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], **rates},
    }


def obtain(username, password=PASSWORD, ip="127.0.0.1"):
    return APIClient().post(
        "/api/v1/auth/token",
        {"username": username, "password": password},
        format="json",
        REMOTE_ADDR=ip,
    )


def concurrently(count, call):
    """Run ``call(i)`` in ``count`` threads released together; close their DB connections."""
    barrier = threading.Barrier(count)

    def run(index):
        try:
            barrier.wait(timeout=30)
            return call(index)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def assert_retry_after(response):
    assert int(response["Retry-After"]) >= 1, response.headers


@pytest.mark.django_db(transaction=True)
def test_a_token_flood_gets_429s_never_500_and_locks_out_no_one_else(settings):
    settings.LOGIN_ATTEMPT_LIMIT = 5
    victim = UserFactory(username=f"victim-{uuid.uuid4().hex[:8]}")
    bystander = UserFactory(username=f"bystander-{uuid.uuid4().hex[:8]}")

    responses = concurrently(50, lambda i: obtain(victim.username, "wrong-guess", ip="10.0.0.9"))

    statuses = [response.status_code for response in responses]
    assert set(statuses) <= {200, 401, 429}, statuses
    # Each guess is counted before the password is checked: at most the limit are checked.
    assert statuses.count(401) == 5, statuses
    assert statuses.count(429) >= 45, statuses
    for response in responses:
        if response.status_code == 429:
            assert_retry_after(response)
            assert response.json()["code"] == "throttled"

    # The right password from the flooding address is refused too, for the window...
    assert obtain(victim.username, ip="10.0.0.9").status_code == 429
    # ...but not from the victim's own address, and other users are untouched.
    assert obtain(victim.username, ip="192.0.2.10").status_code == 200
    assert obtain(bystander.username, ip="10.0.0.9").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_right_and_wrong_passwords_for_many_users_never_answers_500(settings):
    settings.LOGIN_ATTEMPT_LIMIT = 3
    users = [UserFactory(username=f"crowd-{uuid.uuid4().hex[:8]}") for _ in range(5)]

    def attempt(index):
        user = users[index % len(users)]
        return obtain(user.username, PASSWORD if index % 2 else "nope", ip="10.1.1.1")

    statuses = [response.status_code for response in concurrently(50, attempt)]
    assert set(statuses) <= {200, 401, 429}, statuses
    assert 500 not in statuses


@pytest.mark.django_db
def test_token_requests_past_the_auth_rate_answer_429_per_ip_and_username(settings):
    set_rates(settings, auth="3/day")
    user = UserFactory(username=f"rate-{uuid.uuid4().hex[:8]}")

    assert [obtain(user.username).status_code for _ in range(3)] == [200, 200, 200]
    refused = obtain(user.username)
    assert refused.status_code == 429
    assert_retry_after(refused)
    assert obtain(user.username, ip="192.0.2.77").status_code == 200


@pytest.mark.django_db
def test_a_successful_login_clears_the_failed_attempts(settings):
    settings.LOGIN_ATTEMPT_LIMIT = 3
    user = UserFactory(username=f"typo-{uuid.uuid4().hex[:8]}")

    assert obtain(user.username, "typo").status_code == 401
    assert obtain(user.username, "typo").status_code == 401
    assert obtain(user.username).status_code == 200
    assert [obtain(user.username, "typo").status_code for _ in range(3)] == [401, 401, 401]
    assert obtain(user.username, "typo").status_code == 429


@pytest.mark.django_db
def test_the_session_login_form_limits_attempts_per_username_and_address(client, settings):
    settings.LOGIN_ATTEMPT_LIMIT = 3
    user = UserFactory(username=f"form-{uuid.uuid4().hex[:8]}")
    other = UserFactory(username=f"form-other-{uuid.uuid4().hex[:8]}")

    def login(username, password, ip="10.2.2.2"):
        return client.post(
            "/accounts/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
        )

    assert [login(user.username, "wrong").status_code for _ in range(3)] == [200, 200, 200]
    refused = login(user.username, PASSWORD)
    assert refused.status_code == 429
    assert_retry_after(refused)
    assert b"Too many login attempts" in refused.content

    assert login(other.username, PASSWORD).status_code == 302
    client.logout()
    assert login(user.username, PASSWORD, ip="192.0.2.20").status_code == 302


@pytest.mark.django_db
def test_interactions_are_throttled_per_user_with_retry_after(settings, user, pair):
    set_rates(settings, interactions="2/day")
    api = client_for(user)
    mira, tobias = pair
    body = {"initiator_id": str(mira.pk), "target_id": str(tobias.pk), "type": "greeting"}

    statuses = [
        api.post("/api/v1/interactions", {**body, "content": f"Hello {n}!"}, format="json")
        for n in range(3)
    ]
    assert [response.status_code for response in statuses] == [201, 201, 429]
    assert_retry_after(statuses[2])
    assert statuses[2].json()["code"] == "throttled"

    # Another user has a count of their own.
    other = UserFactory()
    ecosystem = EcosystemFactory(owner=other)
    first, second = (CharacterFactory(ecosystem=ecosystem, **SOCIABLE) for _ in range(2))
    response = client_for(other).post(
        "/api/v1/interactions",
        {
            "initiator_id": str(first.pk),
            "target_id": str(second.pk),
            "type": "chat",
            "content": "Hi",
        },
        format="json",
    )
    assert response.status_code == 201, response.json()


@pytest.mark.django_db
def test_scenario_writes_are_throttled_per_user(settings, api, ecosystem, pair):
    set_rates(settings, scenario_writes="1/day")
    body = {
        "title": "Market day",
        "setting": "the square",
        "character_ids": [str(character.pk) for character in pair],
        "duration_minutes": 10,
        "tick_seconds": 5,
    }
    url = f"/api/v1/ecosystem/{ecosystem.pk}/scenario"
    first = api.post(url, body, format="json")
    assert first.status_code == 201, first.json()
    refused = api.post(url, {**body, "title": "Market night"}, format="json")
    assert refused.status_code == 429
    assert_retry_after(refused)
    # Reading is not a write: the scenario can still be looked at.
    assert api.get(f"/api/v1/scenarios/{first.json()['id']}").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_write_throttle_count_holds_under_concurrency(settings):
    set_rates(settings, interactions="10/day")
    owner = UserFactory()
    ecosystem = EcosystemFactory(owner=owner)
    characters = [CharacterFactory(ecosystem=ecosystem, **SOCIABLE) for _ in range(6)]

    def interact(index):
        initiator = characters[index % 3]
        target = characters[3 + index % 3]
        return client_for(owner).post(
            "/api/v1/interactions",
            {
                "initiator_id": str(initiator.pk),
                "target_id": str(target.pk),
                "type": "chat",
                "content": f"Line {index}",
            },
            format="json",
        )

    statuses = [response.status_code for response in concurrently(30, interact)]
    assert statuses.count(429) == 20, statuses
    assert set(statuses) - {429} <= {201, 409}, statuses


@pytest.mark.django_db
def test_reads_are_not_counted_against_a_write_scope(settings, api, ecosystem):
    set_rates(settings, interactions="1/day")
    for _ in range(5):
        assert api.get(f"/api/v1/ecosystem/{ecosystem.pk}/dashboard").status_code == 200


def test_client_ip_trusts_only_the_configured_number_of_proxies(rf, settings):
    from core.throttling import client_ip

    request = rf.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert client_ip(request) == "10.9.9.9"
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    assert client_ip(request) == "203.0.113.5"  # the entry nginx appended, not the forged one


def test_an_invalid_rate_is_a_configuration_error():
    from django.core.exceptions import ImproperlyConfigured

    from core.throttling import parse_rate

    assert parse_rate("6000/min") == (6000, 60)
    assert parse_rate("5/s") == (5, 1)
    assert parse_rate("2/day") == (2, 86400)
    with pytest.raises(ImproperlyConfigured):
        parse_rate("lots")
