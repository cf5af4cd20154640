"""eventlog.services.atomic_with_events: the events are the transaction's last statement,
sent with its COMMIT, so the ecosystem row's lock is never held while the client works."""

import pytest
from django.db import DEFAULT_DB_ALIAS, connections, transaction

from eventlog.models import Event
from eventlog.services import atomic_with_events
from tests.factories import CharacterFactory

pytestmark = pytest.mark.django_db(transaction=True)


def _spec(n: int) -> tuple[str, dict]:
    return ("character_state_changed", {"characters": {}, "n": n})


def test_the_numbered_insert_and_the_commit_go_out_in_one_flight(ecosystem, monkeypatch):
    """The insert that takes the ecosystem row's lock and the COMMIT that frees it are sent
    in one pipeline, without waiting for the insert's answer in between (which, in a busy
    web process, meant waiting for the GIL with the lock held)."""
    database = connections[DEFAULT_DB_ALIAS]
    commit = database.commit
    seen = []

    def spying_commit() -> None:
        raw = database.connection
        seen.append(("in pipeline", raw._pipeline is not None))
        commit()

    with atomic_with_events() as batch:
        CharacterFactory(ecosystem=ecosystem)  # a row written in the same transaction
        batch.append(ecosystem_id=ecosystem.pk, events=[_spec(1), _spec(2)])
        monkeypatch.setattr(database, "commit", spying_commit)
    monkeypatch.undo()
    assert seen[0] == ("in pipeline", True)
    assert [row.seq for row in batch.rows] == [1, 2]
    stored = list(Event.objects.filter(ecosystem=ecosystem).order_by("seq"))
    assert [(event.pk, event.seq, event.payload["n"]) for event in stored] == [
        (row.pk, row.seq, n) for row, n in zip(batch.rows, (1, 2), strict=True)
    ]


def test_a_block_that_raises_writes_nothing(ecosystem):
    with pytest.raises(ValueError), atomic_with_events() as batch:
        batch.append(ecosystem_id=ecosystem.pk, events=[_spec(1)])
        raise ValueError("refused")
    assert not Event.objects.filter(ecosystem=ecosystem).exists()
    ecosystem.refresh_from_db()
    assert ecosystem.last_seq == 0


def test_inside_a_callers_transaction_the_events_commit_with_it(ecosystem):
    with transaction.atomic():
        with atomic_with_events() as batch:
            batch.append(ecosystem_id=ecosystem.pk, events=[_spec(1)])
        assert [row.seq for row in batch.rows] == [1]  # written as the block ended
        assert Event.objects.filter(ecosystem=ecosystem).count() == 1
