"""The scenario clock called directly (the Celery task and the embedded run command call
the same function): what is due plays, the next tick keeps its cadence, time runs out, and
concurrent ticks never play one turn twice."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from characters.models import Character
from eventlog.models import Event
from interactions.models import Interaction
from scenarios import services as scenario_services
from scenarios.models import Scenario
from scenarios.services import (
    clock_run,
    clock_tick,
    scenario_create,
    scenario_pause,
    scenario_resume,
)
from scenarios.tasks import scenarios_clock_tick
from tests.conftest import from_another_connection
from tests.factories import CharacterFactory

SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)


def new_scenario(ecosystem, *, now=None, tick_seconds=2.0, duration_minutes=10, names=None):
    cast = [
        CharacterFactory(ecosystem=ecosystem, name=name, **SOCIABLE)
        for name in names or ("Ines", "Mira")
    ]
    return scenario_create(
        ecosystem=ecosystem,
        participants=cast,
        title="A quiet evening",
        duration_minutes=duration_minutes,
        tick_seconds=tick_seconds,
        seed=3,
        now=now,
    )


@pytest.fixture(autouse=True, scope="module")
def _dialogue_backend_built():
    """These tests pass clock times a little ahead of the wall clock; build the backend
    first (its grammar library takes seconds to import), as a worker does at start."""
    from interactions.services import dialogue_backend

    dialogue_backend()


@pytest.mark.django_db
def test_a_due_scenario_plays_one_turn_and_keeps_its_cadence(ecosystem):
    t0 = timezone.now()
    scenario = new_scenario(ecosystem, now=t0, tick_seconds=2.0)
    assert clock_tick(now=t0 + timedelta(seconds=1)) == 0  # not due yet
    assert clock_tick(now=t0 + timedelta(seconds=2.3)) == 1
    scenario.refresh_from_db()
    assert scenario.turn == 1
    # Due at t0+2, played 0.3 s late: the next tick is t0+4, not t0+4.3.
    assert scenario.next_tick_at == t0 + timedelta(seconds=4)
    assert clock_tick(now=t0 + timedelta(seconds=3)) == 0
    assert Interaction.objects.get(scenario=scenario).turn == 1


@pytest.mark.django_db
def test_a_scenario_far_behind_restarts_from_now_instead_of_bursting(ecosystem):
    t0 = timezone.now() - timedelta(seconds=60)
    scenario = new_scenario(ecosystem, now=t0, tick_seconds=2.0)
    before = timezone.now()
    assert clock_tick() == 1
    scenario.refresh_from_db()
    assert scenario.next_tick_at >= before + timedelta(seconds=2)
    assert clock_tick() == 0


@pytest.mark.django_db
def test_a_scenario_ends_by_itself_when_its_active_time_is_up(ecosystem):
    scenario = new_scenario(ecosystem, duration_minutes=1)
    Scenario.objects.filter(pk=scenario.pk).update(active_seconds=59.0)
    assert clock_tick(now=timezone.now() + timedelta(seconds=2.5)) == 0
    scenario.refresh_from_db()
    assert scenario.status == Scenario.Status.ENDED
    assert scenario.summary["reason"] == "duration_elapsed"
    assert scenario.active_seconds >= 60.0
    (ended,) = Event.objects.filter(ecosystem=ecosystem, type="scenario_ended")
    assert ended.payload["summary"] == scenario.summary


@pytest.mark.django_db
def test_pauses_push_the_end_back(ecosystem):
    t0 = timezone.now() - timedelta(seconds=120)
    scenario = new_scenario(ecosystem, now=t0, duration_minutes=1)
    scenario_pause(scenario_id=scenario.pk, now=t0 + timedelta(seconds=50))
    scenario_resume(scenario_id=scenario.pk, now=timezone.now() - timedelta(seconds=5))
    assert clock_tick() == 1  # 55 s of 60 active: still playing
    scenario.refresh_from_db()
    assert scenario.status == Scenario.Status.ACTIVE


@pytest.mark.django_db
def test_paused_scenarios_are_not_ticked(ecosystem):
    scenario = new_scenario(ecosystem)
    scenario_pause(scenario_id=scenario.pk)
    assert clock_tick(now=timezone.now() + timedelta(hours=1)) == 0
    assert not Interaction.objects.exists()


@pytest.mark.django_db
def test_the_most_overdue_scenarios_go_first_and_the_batch_is_bounded(ecosystem):
    t0 = timezone.now()
    scenarios = [
        new_scenario(ecosystem, now=t0 - timedelta(seconds=offset), names=(f"A{i}", f"B{i}"))
        for i, offset in enumerate((1, 3, 2))
    ]
    assert clock_tick(now=t0 + timedelta(seconds=2), limit=2) == 2
    turns = {s.pk: Scenario.objects.get(pk=s.pk).turn for s in scenarios}
    assert turns == {scenarios[0].pk: 0, scenarios[1].pk: 1, scenarios[2].pk: 1}


@pytest.mark.django_db
def test_a_skipped_turn_does_not_end_the_batch(ecosystem):
    t0 = timezone.now()
    tired = new_scenario(ecosystem, now=t0 - timedelta(seconds=3), names=("Ada", "Bo"))
    Character.objects.filter(scenarios=tired).update(energy=0.0)  # nobody can talk: skipped
    fresh = new_scenario(ecosystem, now=t0 - timedelta(seconds=2), names=("Cy", "Di"))
    assert clock_tick(now=t0) == 1
    assert (Scenario.objects.get(pk=tired.pk).turn, Scenario.objects.get(pk=fresh.pk).turn) == (
        0,
        1,
    )


@pytest.mark.django_db(transaction=True)
def test_with_the_template_backend_a_turn_is_played_in_its_claims_transaction(
    ecosystem, monkeypatch
):
    """No claim is saved for lines written in the process: while they are written the
    scenario row and its cast are still locked by the claiming transaction (another claimer
    skips them), and nothing of the claim is visible outside it."""
    assert connection.vendor == "postgresql", "row locks need PostgreSQL: run with make test"
    scenario = new_scenario(ecosystem, now=timezone.now() - timedelta(seconds=3))
    seen = []
    generate = scenario_services.turn_generate

    def look_from_outside(claim):
        def queries(cursor) -> None:
            cursor.execute(
                "SELECT claim_token FROM scenarios_scenario WHERE id = %s FOR UPDATE SKIP LOCKED",
                [scenario.pk],
            )
            seen.append(("rows a claimer may take", cursor.fetchall()))
            cursor.execute(
                "SELECT claim_token FROM scenarios_scenario WHERE id = %s", [scenario.pk]
            )
            seen.append(("claim token saved", cursor.fetchone()[0]))
            cursor.execute(
                "SELECT id FROM characters_character WHERE id IN (%s, %s) "
                "FOR NO KEY UPDATE SKIP LOCKED",
                [claim.plan.initiator.pk, claim.plan.target.pk],
            )
            seen.append(("speakers free to change", cursor.fetchall()))

        from_another_connection(queries)
        return generate(claim)

    monkeypatch.setattr(scenario_services, "turn_generate", look_from_outside)
    assert clock_tick() == 1
    assert seen == [
        ("rows a claimer may take", []),
        ("claim token saved", None),
        ("speakers free to change", []),
    ]
    scenario.refresh_from_db()
    assert (scenario.turn, scenario.claim_token) == (1, None)
    assert Interaction.objects.filter(scenario=scenario, turn=1).count() == 1


@pytest.mark.django_db
def test_the_clock_task_keeps_the_clock_for_its_window(ecosystem, settings):
    settings.SCENARIO_CLOCK_WINDOW_SECONDS = 0.3
    new_scenario(ecosystem, now=timezone.now() - timedelta(seconds=5))
    started = time.monotonic()
    assert scenarios_clock_tick.apply().get() == 1
    assert 0.3 <= time.monotonic() - started < 1.0


@pytest.mark.django_db
def test_clock_run_plays_each_scenario_at_its_due_time_not_at_the_next_tick(ecosystem):
    t0 = timezone.now()
    early = new_scenario(ecosystem, now=t0 - timedelta(seconds=0.7), tick_seconds=1.0)
    late = new_scenario(
        ecosystem, now=t0 - timedelta(seconds=0.4), tick_seconds=1.0, names=("Otto", "Yuki")
    )
    due = {s.pk: s.next_tick_at for s in (early, late)}
    assert clock_run(seconds=0.9) == 2
    for scenario in (early, late):
        interaction = Interaction.objects.get(scenario=scenario)
        lateness = (interaction.created - due[scenario.pk]).total_seconds()
        assert 0 <= lateness < 0.15, lateness


@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_never_play_the_same_turn(ecosystem):
    assert connection.vendor == "postgresql", "row locks need PostgreSQL: run with make test"
    t0 = timezone.now() - timedelta(seconds=10)
    scenarios = [
        new_scenario(ecosystem, now=t0, names=(f"A{i}", f"B{i}"), tick_seconds=1.0)
        for i in range(8)
    ]
    played: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(4)

    def tick() -> None:
        try:
            barrier.wait()
            played.append(clock_tick())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=tick) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert sum(played) == 8
    for scenario in scenarios:
        scenario.refresh_from_db()
        assert scenario.turn == 1
        assert Interaction.objects.filter(scenario=scenario).count() == 1
