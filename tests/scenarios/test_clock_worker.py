"""The clock on the real stack: Celery beat and two worker processes on Redis, PostgreSQL.

Scenarios end after ``duration_minutes`` of active time, and duration_minutes is a whole
number; to see one end within seconds a test starts it with most of its minute already
used (``active_seconds`` set right after scenario_create, in the same transaction, before
any worker can see it).
"""

import re
import time
from datetime import timedelta

import pytest
from django.db import connection, connections, transaction
from django.utils import timezone

from characters.models import Character
from eventlog.models import Event
from interactions.models import Interaction
from memories.models import Memory, MemoryStream
from relationships.models import Relationship
from scenarios.models import Scenario, UserMessage
from scenarios.services import (
    scenario_create,
    scenario_mode_set,
    scenario_pause,
    scenario_post_message,
    scenario_resume,
)
from tests.factories import CharacterFactory

pytestmark = [pytest.mark.celery_worker, pytest.mark.django_db(transaction=True)]

# Everyone talkative and rested, so nobody tires within a test's few dozen turns.
SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.9, agreeableness=0.7, neuroticism=0.3
)
TICK_SECONDS = 1.0
CLOCK_TICK_FAILED = re.compile(r"scenarios\.clock_tick\[[^\]]+\] raised")


@pytest.fixture(autouse=True)
def stop_scenarios_after_test(celery_cluster):
    """Leave no scenario playing into the next test's database flush."""
    yield
    Scenario.objects.exclude(status=Scenario.Status.ENDED).update(
        status=Scenario.Status.ENDED, next_tick_at=None
    )
    time.sleep(0.2)  # graph-sync tasks of the last turns


def make_cast(ecosystem, count=3, prefix=""):
    return [
        CharacterFactory(ecosystem=ecosystem, name=f"{prefix}{name}", **SOCIABLE)
        for name in ("Ines", "Mira", "Rafael", "Tobias")[:count]
    ]


def start(ecosystem, cast, *, seconds_left=None, seed=5, first_tick_in=TICK_SECONDS, **options):
    """Create a scenario ticking every second; ``seconds_left`` of active time (else 10 min)."""
    with transaction.atomic():
        scenario = scenario_create(
            ecosystem=ecosystem,
            participants=cast,
            title=options.pop("title", "Harbor evening"),
            mood="relaxed",
            duration_minutes=1 if seconds_left is not None else 10,
            tick_seconds=TICK_SECONDS,
            seed=seed,
            **options,
        )
        changes = {"next_tick_at": timezone.now() + timedelta(seconds=first_tick_in)}
        if seconds_left is not None:
            changes["active_seconds"] = 60.0 - seconds_left
        Scenario.objects.filter(pk=scenario.pk).update(**changes)
    return scenario


def wait_until(predicate, timeout, interval=0.1, message="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {message}")


def current(scenario):
    return Scenario.objects.get(pk=scenario.pk)


def assert_one_interaction_per_turn(scenario):
    scenario = current(scenario)
    turns = list(
        Interaction.objects.filter(scenario=scenario)
        .order_by("turn")
        .values_list("turn", flat=True)
    )
    assert turns == list(range(1, scenario.turn + 1)), "turns contiguous, each played once"
    return scenario.turn


def test_a_scenario_plays_one_turn_per_tick_and_ends_by_itself(ecosystem, celery_cluster):
    started = time.monotonic()
    scenario = start(ecosystem, make_cast(ecosystem), seconds_left=6)
    wait_until(
        lambda: current(scenario).status == Scenario.Status.ENDED, timeout=20, message="the end"
    )
    took = time.monotonic() - started
    ended = current(scenario)
    turns = assert_one_interaction_per_turn(ended)
    # 6 s of active time at one turn a second: turns at ~1..5 s (+1 s first tick), end at 6-7.
    assert 4 <= turns <= 7, turns
    assert 5.5 <= took <= 10, took
    assert ended.summary["reason"] == "duration_elapsed"
    assert ended.summary["turns"] == turns
    assert ended.active_seconds >= 60.0
    ended_event = Event.objects.get(ecosystem=ecosystem, type="scenario_ended")
    assert ended_event.payload["summary"]["turns"] == turns
    # The interaction events carry the scenario and the turn.
    played = Event.objects.filter(ecosystem=ecosystem, type="character_interaction")
    assert sorted(e.payload["turn"] for e in played) == list(range(1, turns + 1))


def test_pause_stops_turns_within_one_tick_and_resume_restarts_them(ecosystem, celery_cluster):
    scenario = start(ecosystem, make_cast(ecosystem))
    wait_until(lambda: current(scenario).turn >= 2, timeout=10, message="two turns")
    scenario_pause(scenario_id=scenario.pk)
    paused_at_turn = current(scenario).turn
    time.sleep(3 * TICK_SECONDS)
    assert current(scenario).turn == paused_at_turn
    assert Interaction.objects.filter(scenario=scenario).count() == paused_at_turn

    scenario_resume(scenario_id=scenario.pk)
    wait_until(
        lambda: current(scenario).turn >= paused_at_turn + 2, timeout=10, message="resumed turns"
    )
    assert_one_interaction_per_turn(scenario)


def test_two_workers_racing_never_play_the_same_turn(ecosystem, celery_cluster):
    scenarios = [
        start(ecosystem, make_cast(ecosystem, prefix=f"S{i} "), title=f"Scene {i}")
        for i in range(6)
    ]
    logs_before = {name: len(celery_cluster.log(name)) for name in celery_cluster.processes}
    deadline = time.monotonic() + 6
    while time.monotonic() < deadline:  # beat's tick plus 5 more a second, to both workers
        celery_cluster.tick()
        time.sleep(0.2)
    time.sleep(1.5)
    for scenario in scenarios:
        turns = assert_one_interaction_per_turn(scenario)
        # ~6 s at one turn a second: extra ticks never make a scenario play faster.
        assert 4 <= turns <= 8, turns
    for name in ("scenario-worker-a", "scenario-worker-b"):
        log = celery_cluster.log(name)[logs_before[name] :]
        assert "scenarios.clock_tick" in log, f"{name} took part"
        assert "IntegrityError" not in log
        assert not CLOCK_TICK_FAILED.search(log)


def _worker_blocked_inside_a_turn(database_name):
    with connections["default"].cursor() as cursor:
        cursor.execute(
            "SELECT application_name FROM pg_stat_activity "
            "WHERE datname = %s AND wait_event_type = 'Lock' "
            "AND application_name LIKE 'scenario-worker-%%'",
            [database_name],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def test_killing_a_worker_mid_turn_neither_loses_nor_duplicates_the_turn(ecosystem, celery_cluster):
    scenario = start(ecosystem, make_cast(ecosystem))
    wait_until(lambda: current(scenario).turn >= 2, timeout=10, message="two turns")

    # Hold the ecosystem's event counter: the next turn's worker blocks inside its
    # transaction (interaction written, events not yet), i.e. mid-turn.
    blocker = connections.create_connection("default")
    blocker.set_autocommit(False)
    try:
        with blocker.cursor() as cursor:
            cursor.execute(
                "SELECT last_seq FROM characters_ecosystem WHERE id = %s FOR UPDATE",
                [ecosystem.pk],
            )
        turn_in_flight = current(scenario).turn + 1
        victim = wait_until(
            lambda: _worker_blocked_inside_a_turn(connection.settings_dict["NAME"]),
            timeout=10,
            message="a worker inside a turn",
        )
        celery_cluster.kill(victim)
    finally:
        blocker.rollback()
        blocker.close()
    try:
        # The dead worker's transaction rolls back; the surviving worker plays that turn.
        wait_until(
            lambda: current(scenario).turn >= turn_in_flight + 2,
            timeout=15,
            message="turns after the kill",
        )
        assert_one_interaction_per_turn(scenario)
        assert Interaction.objects.filter(scenario=scenario, turn=turn_in_flight).count() == 1
    finally:
        celery_cluster.start_worker(victim)


def test_same_seed_and_same_cast_state_give_the_same_transcript(ecosystem, celery_cluster):
    cast = make_cast(ecosystem)
    fields = ("pleasure", "arousal", "dominance", "emotion", "energy", "status")
    initial = {c.pk: {f: getattr(c, f) for f in fields} for c in cast}

    def run():
        now = timezone.now()
        for pk, state in initial.items():
            Character.objects.filter(pk=pk).update(**state, state_updated_at=now)
        Relationship.objects.filter(ecosystem=ecosystem).delete()
        # Memories are part of the cast's state too.
        Memory.objects.filter(ecosystem=ecosystem).delete()
        MemoryStream.objects.filter(character__ecosystem=ecosystem).delete()
        scenario = start(ecosystem, cast, seconds_left=5, seed=99, first_tick_in=0.2)
        wait_until(
            lambda: current(scenario).status == Scenario.Status.ENDED, timeout=15, message="end"
        )
        transcript = list(
            Interaction.objects.filter(scenario=scenario)
            .order_by("turn")
            .values_list("initiator__name", "target__name", "interaction_type", "content")
        )
        Scenario.objects.filter(pk=scenario.pk).delete()
        return transcript

    first = run()
    second = run()
    shortest = min(len(first), len(second))
    assert shortest >= 3
    # Both ran for 5 s of active time; the clock may fit one turn more in one of them.
    assert abs(len(first) - len(second)) <= 1
    assert first[:shortest] == second[:shortest]


def test_a_participants_message_is_answered_by_the_named_character_next_turn(
    ecosystem, celery_cluster, user
):
    cast = make_cast(ecosystem)
    scenario = start(ecosystem, cast)
    scenario_mode_set(scenario_id=scenario.pk, mode=Scenario.Mode.PARTICIPANT)
    wait_until(lambda: current(scenario).turn >= 1, timeout=10, message="a first turn")
    rafael = next(c for c in cast if c.name == "Rafael")
    message = scenario_post_message(
        scenario_id=scenario.pk,
        author=user,
        content="Rafael, tell us a story about the sea!",
        target_character_id=rafael.pk,
    )
    posted = Event.objects.get(ecosystem=ecosystem, type="user_message")
    wait_until(
        lambda: UserMessage.objects.get(pk=message.pk).answered_at,
        timeout=10,
        message="the answer",
    )
    answer = Interaction.objects.get(scenario=scenario, user_message=message)
    assert answer.turn == posted.payload["turn"] + 1, "answered on the very next turn"
    assert answer.initiator_id == rafael.pk
    assert answer.content
