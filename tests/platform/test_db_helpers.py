"""core.db: the hot path's hand-written statements read, insert and write what
the ORM would, and lock what they say they lock."""

import psycopg
import pytest
from django.conf import settings
from django.db import connection, transaction

from characters.models import Character
from core.db import model_columns, model_from_row, rows_fetch, rows_insert, rows_select, rows_update
from eventlog.models import Event
from eventlog.services import events_append
from interactions.models import Interaction
from relationships.models import Relationship
from tests.factories import CharacterFactory, user_message_event

pytestmark = pytest.mark.django_db


def fields_of(instance) -> dict:
    return {
        field.attname: getattr(instance, field.attname)
        for field in type(instance)._meta.concrete_fields
    }


def test_rows_select_reads_what_the_orm_reads_in_primary_key_order(ecosystem):
    characters = [CharacterFactory(ecosystem=ecosystem) for _ in range(4)]
    wanted = sorted(character.pk for character in characters[:3])

    rows = rows_select(Character, "id IN (%s, %s, %s)", wanted)

    assert [row.pk for row in rows] == wanted
    for row in rows:
        assert fields_of(row) == fields_of(Character.objects.get(pk=row.pk))
        assert row._state.adding is False  # saved rows, as the ORM gives them


def test_model_columns_read_a_whole_row_alongside_something_more(ecosystem):
    character = CharacterFactory(ecosystem=ecosystem, greetings=["Hello there."])
    table = connection.ops.quote_name(Character._meta.db_table)

    (row,) = rows_fetch(
        f"SELECT {model_columns(Character)}, 41 + 1 FROM {table} WHERE id = %s",
        [character.pk],
    )

    read = model_from_row(Character, row)
    assert fields_of(read) == fields_of(Character.objects.get(pk=character.pk))
    assert read._state.adding is False
    assert row[-1] == 42


def test_rows_select_applies_the_database_converters(ecosystem):
    with transaction.atomic():
        events_append(ecosystem_id=ecosystem.pk, events=[user_message_event("calm")])

    (event,) = rows_select(Event, "ecosystem_id = %s", [ecosystem.pk])

    # a dict, not the JSON text PostgreSQL sends
    assert event.payload == user_message_event("calm")[1]
    assert fields_of(event) == fields_of(Event.objects.get(pk=event.pk))


@pytest.mark.django_db(transaction=True)
def test_rows_select_for_update_locks_the_rows_against_writers_until_commit(ecosystem):
    character = CharacterFactory(ecosystem=ecosystem)
    database = settings.DATABASES["default"]
    other = psycopg.connect(
        host=database["HOST"],
        port=database["PORT"],
        dbname=connection.settings_dict["NAME"],
        user=database["USER"],
        password=database["PASSWORD"],
        autocommit=True,
    )
    lock_of_other = "SELECT 1 FROM characters_character WHERE id = %s FOR {} NOWAIT"
    try:
        with transaction.atomic():
            rows_select(Character, "id = %s", [character.pk], for_update=True)
            for writer in ("UPDATE", "NO KEY UPDATE"):
                with pytest.raises(psycopg.errors.LockNotAvailable):
                    other.execute(lock_of_other.format(writer), [character.pk])
            # Another transaction's foreign-key check on the row goes through: a row that
            # references a locked character (a reflection about someone outside the pair)
            # never waits on the lock at commit, which had deadlocked two interactions.
            other.execute("BEGIN")
            assert other.execute(lock_of_other.format("KEY SHARE"), [character.pk]).fetchall()
            other.execute("ROLLBACK")
        assert other.execute(lock_of_other.format("UPDATE"), [character.pk]).fetchall() == [(1,)]
    finally:
        other.close()


def test_rows_insert_saves_new_rows_as_save_would(ecosystem):
    first, second = CharacterFactory(ecosystem=ecosystem), CharacterFactory(ecosystem=ecosystem)
    pair = [
        Relationship(ecosystem=ecosystem, from_character=first, to_character=second, trust=0.4),
        Relationship(ecosystem=ecosystem, from_character=second, to_character=first),
    ]

    rows_insert(pair)

    assert all(rel.pk is not None and not rel._state.adding for rel in pair)  # ids read back
    for rel in pair:
        stored = Relationship.objects.get(pk=rel.pk)
        assert fields_of(stored) == fields_of(rel)
        assert stored.updated_at is not None  # auto_now, as save() sets it
    assert Relationship.objects.get(from_character=first).trust == 0.4


def test_rows_insert_prepares_json_and_keeps_a_primary_key_given_in_python(ecosystem):
    first, second = CharacterFactory(ecosystem=ecosystem), CharacterFactory(ecosystem=ecosystem)
    interaction = Interaction(
        ecosystem=ecosystem,
        initiator=first,
        target=second,
        interaction_type="chat",
        content="Hello?",
        response="Hello!",
        content_sentiment=0.0,
        response_sentiment=0.4,
        relationship_change={"strength_delta": 0.01, "reverse": {"trust_delta": 0.0}},
    )
    key = interaction.pk

    rows_insert([interaction])

    stored = Interaction.objects.get(pk=key)
    assert stored.relationship_change == {"strength_delta": 0.01, "reverse": {"trust_delta": 0.0}}
    assert stored.created is not None
    assert fields_of(stored) == fields_of(interaction)


def test_rows_update_writes_each_row_its_own_values(ecosystem):
    first, second = CharacterFactory(ecosystem=ecosystem), CharacterFactory(ecosystem=ecosystem)
    first.energy, first.emotion = 0.25, "content"
    second.energy, second.emotion = 0.75, "hostile"

    rows_update([first, second], ["energy", "emotion"])

    assert Character.objects.get(pk=first.pk).energy == 0.25
    assert Character.objects.get(pk=first.pk).emotion == "content"
    assert Character.objects.get(pk=second.pk).energy == 0.75
    assert Character.objects.get(pk=second.pk).emotion == "hostile"
