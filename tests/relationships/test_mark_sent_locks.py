"""Recording what Neo4j holds (``graph_version``) locks relationship rows in primary-key
order, as an interaction locks the two directions of its pair: the two never deadlock."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from relationships.graph import _mark_sent
from relationships.models import Relationship
from tests.factories import CharacterFactory

from .conftest import relationship_make

pytestmark = pytest.mark.django_db(transaction=True)

WAIT_SECONDS = 10.0


def _lock(relationship_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM relationships_relationship WHERE id = %s FOR NO KEY UPDATE",
            [relationship_id],
        )


def _waiting_for_a_lock(sql_fragment: str) -> bool:
    with connection.cursor() as cursor:
        # The activity view is a snapshot per transaction: this runs inside one.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND datname = current_database() AND query LIKE %s",
            [f"%{sql_fragment}%"],
        )
        return cursor.fetchone()[0] > 0


def test_marking_sent_waits_its_turn_behind_an_interaction_holding_the_first_direction(
    ecosystem,
):
    """An interaction holds (A, B) and then wants (B, A). Marking both sent, the rows given
    (B, A) first, must wait for (A, B) without taking (B, A): otherwise each waits for the
    other and PostgreSQL kills one (the clock's task died of it under load)."""
    a, b = CharacterFactory(ecosystem=ecosystem), CharacterFactory(ecosystem=ecosystem)
    first = relationship_make(a, b, version=2)
    second = relationship_make(b, a, version=2)
    assert first.pk < second.pk
    holding, errors = threading.Event(), []

    def interaction() -> None:
        try:
            with transaction.atomic():
                _lock(first.pk)
                holding.set()
                deadline = time.monotonic() + WAIT_SECONDS
                while not _waiting_for_a_lock("graph_version"):
                    assert time.monotonic() < deadline, "marking never waited for a lock"
                    time.sleep(0.02)
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL lock_timeout = '5s'")
                _lock(second.pk)
        except Exception as error:  # the test reports what went wrong
            errors.append(("interaction", error))
        finally:
            connection.close()

    def mark() -> None:
        try:
            assert holding.wait(WAIT_SECONDS)
            _mark_sent([(second.pk, 2), (first.pk, 2)])
        except Exception as error:  # the test reports what went wrong
            errors.append(("mark", error))
        finally:
            connection.close()

    threads = [threading.Thread(target=interaction), threading.Thread(target=mark)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(3 * WAIT_SECONDS)
    assert errors == []
    assert sorted(Relationship.objects.values_list("graph_version", flat=True)) == [2, 2]
