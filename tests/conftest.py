"""Shared fixtures. The suite runs against the real services of `make services`
(var/services.env is loaded by `make test`)."""

import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.db import connection, transaction
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from tests.celery_cluster import celery_cluster  # noqa: F401 - a session fixture for all tests
from tests.factories import CharacterFactory, EcosystemFactory, UserFactory


def token_for(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


def from_another_connection(queries: Callable[[Any], Any]) -> Any:
    """Run ``queries(cursor)`` on another thread's connection, in a transaction of its own:
    what another request or worker sees right now (committed rows, row locks held here).
    Answers what ``queries`` returns."""
    answer: list[Any] = []

    def other_connection() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                answer.append(queries(cursor))
        finally:
            connection.close()

    thread = threading.Thread(target=other_connection)
    thread.start()
    thread.join(timeout=10)
    assert answer, "the other connection did not answer"
    return answer[0]


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
    return client


# Processes the tests start (Daphne, Celery) inherit the environment: give them this run's
# queue and cache prefix (settings/test.py makes both unique per run), so a worker clears the
# same cache keys and takes the same tasks as this process.
os.environ["CELERY_TASK_DEFAULT_QUEUE"] = settings.CELERY_TASK_DEFAULT_QUEUE
os.environ["CACHE_KEY_PREFIX"] = settings.CACHES["default"]["KEY_PREFIX"]


@pytest.fixture(scope="session", autouse=True)
def run_task_queue() -> Iterator[str]:
    """This run's own Celery queue (settings/test.py); what no worker took is purged at the
    end, so nothing of this run is left in Redis."""
    from ecosystem_project.celery import app

    yield settings.CELERY_TASK_DEFAULT_QUEUE
    with app.connection_for_write() as broker:
        broker.default_channel.queue_purge(settings.CELERY_TASK_DEFAULT_QUEUE)


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


@pytest.fixture
def api(user) -> APIClient:
    """An API client authenticated with a JWT access token for ``user``."""
    return client_for(user)


@pytest.fixture
def other_api(other_user) -> APIClient:
    return client_for(other_user)


@pytest.fixture
def anonymous() -> APIClient:
    return APIClient()


@pytest.fixture
def ecosystem(user):
    return EcosystemFactory(owner=user)


@pytest.fixture
def pair(ecosystem):
    """Two sociable, rested characters of ``ecosystem``."""
    traits = dict(
        openness=0.6, conscientiousness=0.6, extraversion=0.7, agreeableness=0.7, neuroticism=0.3
    )
    return (
        CharacterFactory(ecosystem=ecosystem, name="Mira", **traits),
        CharacterFactory(ecosystem=ecosystem, name="Tobias", **traits),
    )
