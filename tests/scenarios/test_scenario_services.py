"""Scenario services without a worker: lifecycle, idempotency, a person stepping in, the
summary and determinism. The clock itself: test_clock.py; with real workers:
test_clock_worker.py."""

from datetime import timedelta

import pytest
from django.utils import timezone

from characters.models import Character
from core.errors import ApplicationError, ConflictError
from eventlog.models import Event
from interactions.models import Interaction
from memories.models import Memory, MemoryStream
from relationships.models import Relationship
from scenarios import director
from scenarios import services as scenario_services
from scenarios.models import Scenario, UserMessage
from scenarios.services import (
    scenario_create,
    scenario_end,
    scenario_mode_set,
    scenario_pause,
    scenario_play_turn,
    scenario_post_message,
    scenario_resume,
)
from tests.factories import CharacterFactory, EcosystemFactory

pytestmark = pytest.mark.django_db

SOCIABLE = dict(
    openness=0.6, conscientiousness=0.6, extraversion=0.8, agreeableness=0.7, neuroticism=0.3
)


@pytest.fixture
def cast(ecosystem):
    return [
        CharacterFactory(ecosystem=ecosystem, name=name, **SOCIABLE)
        for name in ("Ines", "Mira", "Tobias")
    ]


def start(ecosystem, cast, **overrides):
    options = dict(
        title="The storm festival",
        setting="the harbor square",
        mood="excited but tense",
        objectives=["finish the lantern boats"],
        duration_minutes=10,
        tick_seconds=1.0,
        seed=7,
    )
    options.update(overrides)
    return scenario_create(ecosystem=ecosystem, participants=cast, **options)


def events_of(ecosystem, event_type):
    return list(Event.objects.filter(ecosystem=ecosystem, type=event_type).order_by("seq"))


def play(scenario, turns):
    for _ in range(turns):
        scenario.refresh_from_db()
        assert scenario_play_turn(scenario_id=scenario.pk, turn=scenario.turn + 1)
    scenario.refresh_from_db()


# --- create ----------------------------------------------------------------------------


def test_create_starts_the_scenario_with_its_first_tick_one_tick_away(ecosystem, cast):
    before = timezone.now()
    scenario = start(ecosystem, cast, tick_seconds=4.0)
    assert scenario.status == Scenario.Status.ACTIVE
    assert scenario.turn == 0
    assert set(scenario.participants.all()) == set(cast)
    assert before + timedelta(seconds=4) <= scenario.next_tick_at
    assert scenario.next_tick_at <= timezone.now() + timedelta(seconds=4)
    (started,) = events_of(ecosystem, "scenario_started")
    assert started.payload["scenario_id"] == str(scenario.pk)
    assert [p["name"] for p in started.payload["participants"]] == ["Ines", "Mira", "Tobias"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"duration_minutes": 0}, "duration_minutes"),
        ({"duration_minutes": 7 * 24 * 60 + 1}, "duration_minutes"),
        ({"tick_seconds": 0.5}, "tick_seconds"),
        ({"tick_seconds": 3601}, "tick_seconds"),
        ({"mode": "spectator"}, "mode"),
    ],
)
def test_create_refuses_out_of_range_settings_naming_them(ecosystem, cast, overrides, field):
    with pytest.raises(ApplicationError) as refused:
        start(ecosystem, cast, **overrides)
    assert refused.value.status_code == 400
    assert field in refused.value.extra["errors"]
    assert not Scenario.objects.exists()


def test_create_needs_two_different_characters_of_the_ecosystem(ecosystem, cast):
    stranger = CharacterFactory(ecosystem=EcosystemFactory(owner=ecosystem.owner))
    for participants in ([cast[0]], [cast[0], cast[0]], [cast[0], stranger]):
        with pytest.raises(ApplicationError) as refused:
            start(ecosystem, participants)
        assert "participants" in refused.value.extra["errors"]
    assert not Scenario.objects.exists()
    assert not Event.objects.exists()


# --- pause / resume / end ------------------------------------------------------------------


def test_pause_twice_is_harmless_and_writes_one_event(ecosystem, cast):
    scenario = start(ecosystem, cast)
    first = scenario_pause(scenario_id=scenario.pk)
    second = scenario_pause(scenario_id=scenario.pk)
    assert first.status == second.status == Scenario.Status.PAUSED
    assert second.next_tick_at is None
    assert len(events_of(ecosystem, "scenario_paused")) == 1


def test_paused_time_does_not_count_toward_the_duration(ecosystem, cast):
    t0 = timezone.now()
    scenario = start(ecosystem, cast, now=t0)
    scenario_pause(scenario_id=scenario.pk, now=t0 + timedelta(seconds=30))
    resumed = scenario_resume(scenario_id=scenario.pk, now=t0 + timedelta(seconds=330))
    assert resumed.status == Scenario.Status.ACTIVE
    assert resumed.active_seconds == pytest.approx(30.0)
    assert resumed.next_tick_at == t0 + timedelta(seconds=331)
    ended = scenario_end(scenario_id=scenario.pk, now=t0 + timedelta(seconds=340))
    assert ended.active_seconds == pytest.approx(40.0)
    assert [e.type for e in Event.objects.filter(ecosystem=ecosystem).order_by("seq")] == [
        "scenario_started",
        "scenario_paused",
        "scenario_resumed",
        "scenario_ended",
    ]


def test_resume_of_an_active_scenario_does_nothing(ecosystem, cast):
    scenario = start(ecosystem, cast)
    assert scenario_resume(scenario_id=scenario.pk).next_tick_at == scenario.next_tick_at
    assert not events_of(ecosystem, "scenario_resumed")


def test_every_action_on_an_ended_scenario_is_a_conflict(ecosystem, cast, user):
    scenario = start(ecosystem, cast, mode=Scenario.Mode.PARTICIPANT)
    scenario_end(scenario_id=scenario.pk)
    actions = [
        lambda: scenario_pause(scenario_id=scenario.pk),
        lambda: scenario_resume(scenario_id=scenario.pk),
        lambda: scenario_end(scenario_id=scenario.pk),
        lambda: scenario_mode_set(scenario_id=scenario.pk, mode="observer"),
        lambda: scenario_post_message(scenario_id=scenario.pk, author=user, content="Hello?"),
    ]
    for action in actions:
        with pytest.raises(ConflictError) as refused:
            action()
        assert refused.value.code == "scenario_ended"
    assert len(events_of(ecosystem, "scenario_ended")) == 1
    assert not scenario_play_turn(scenario_id=scenario.pk, turn=1)


def test_end_writes_a_summary_of_turns_relationships_and_mood(ecosystem, cast):
    scenario = start(ecosystem, cast)
    play(scenario, 6)
    ended = scenario_end(scenario_id=scenario.pk)
    summary = ended.summary
    assert summary["turns"] == 6
    assert summary["reason"] == "ended_by_user"
    assert sum(summary["interaction_types"].values()) == 6
    assert sum(summary["speakers"].values()) == 6

    changes = summary["relationship_changes"]
    assert changes, "every exchange moves two directed relationships"
    names = {c.name for c in cast}
    for change in changes:
        assert {change["from_name"], change["to_name"]} <= names
        relationship = Relationship.objects.get(
            from_character_id=change["from"], to_character_id=change["to"]
        )
        assert change["strength_after"] == pytest.approx(relationship.strength, abs=1e-3)
        assert change["strength_delta"] == pytest.approx(
            change["strength_after"] - change["strength_before"], abs=1e-3
        )
    assert sum(c["interactions"] for c in changes) == 12

    arc = summary["mood_arc"]
    assert arc[0]["turns"][0] == 1
    assert arc[-1]["turns"][1] == 6
    assert sum(sum(segment["labels"].values()) for segment in arc) == 12
    (ended_event,) = events_of(ecosystem, "scenario_ended")
    assert ended_event.payload["summary"] == summary


# --- turns -------------------------------------------------------------------------------


def test_a_turn_plays_once_whatever_the_number_of_calls(ecosystem, cast):
    scenario = start(ecosystem, cast)
    assert scenario_play_turn(scenario_id=scenario.pk, turn=1) is True
    assert scenario_play_turn(scenario_id=scenario.pk, turn=1) is False
    assert scenario_play_turn(scenario_id=scenario.pk, turn=3) is False  # not at that turn
    assert scenario_play_turn(scenario_id=scenario.pk, turn=2) is True
    assert list(Interaction.objects.order_by("turn").values_list("turn", flat=True)) == [1, 2]
    scenario.refresh_from_db()
    assert scenario.turn == 2


def test_a_paused_scenario_plays_no_turn(ecosystem, cast):
    scenario = start(ecosystem, cast)
    scenario_pause(scenario_id=scenario.pk)
    assert scenario_play_turn(scenario_id=scenario.pk, turn=1) is False
    assert not Interaction.objects.exists()


def test_a_person_is_answered_by_the_named_character_on_the_next_turn(ecosystem, cast, user):
    scenario = start(ecosystem, cast, mode=Scenario.Mode.PARTICIPANT)
    play(scenario, 2)
    tobias = cast[2]
    message = scenario_post_message(
        scenario_id=scenario.pk,
        author=user,
        content="Tobias, who should lead the parade?",
        target_character_id=tobias.pk,
    )
    (posted,) = events_of(ecosystem, "user_message")
    assert posted.payload["target_name"] == "Tobias"
    assert posted.payload["turn"] == 2
    play(scenario, 1)

    answer = Interaction.objects.get(scenario=scenario, turn=3)
    assert answer.initiator == tobias
    assert answer.user_message == message
    assert answer.content
    message.refresh_from_db()
    assert message.answered_at is not None
    play(scenario, 1)  # answered once only
    assert Interaction.objects.get(scenario=scenario, turn=4).user_message is None


def test_an_observer_cannot_step_in(ecosystem, cast, user):
    scenario = start(ecosystem, cast)
    with pytest.raises(ConflictError) as refused:
        scenario_post_message(scenario_id=scenario.pk, author=user, content="Hi all")
    assert refused.value.code == "observer_mode"
    scenario_mode_set(scenario_id=scenario.pk, mode=Scenario.Mode.PARTICIPANT)
    scenario_post_message(scenario_id=scenario.pk, author=user, content="Hi all")
    assert UserMessage.objects.count() == 1


def test_a_message_to_a_character_outside_the_scenario_is_bad_input(ecosystem, cast, user):
    outsider = CharacterFactory(ecosystem=ecosystem)
    scenario = start(ecosystem, cast[:2], mode=Scenario.Mode.PARTICIPANT)
    with pytest.raises(ApplicationError) as refused:
        scenario_post_message(
            scenario_id=scenario.pk, author=user, content="Hi", target_character_id=outsider.pk
        )
    assert refused.value.status_code == 400
    assert "target_character_id" in refused.value.extra["errors"]


def test_when_everyone_is_too_tired_the_turn_is_skipped(ecosystem, cast):
    scenario = start(ecosystem, cast)
    Character.objects.filter(pk__in=[c.pk for c in cast]).update(
        energy=0.05, status=Character.Status.RESTING, state_updated_at=timezone.now()
    )
    assert scenario_play_turn(scenario_id=scenario.pk, turn=1) is False
    scenario.refresh_from_db()
    assert scenario.turn == 0
    assert not Interaction.objects.exists()


def test_an_engine_refusal_skips_the_turn_without_raising(ecosystem, cast, monkeypatch):
    scenario = start(ecosystem, cast)
    archived = cast[2]
    Character.objects.filter(pk=archived.pk).update(status=Character.Status.ARCHIVED)
    monkeypatch.setattr(
        director,
        "plan_turn",
        lambda **kwargs: director.TurnPlan(
            initiator_id=str(cast[0].pk),
            target_id=str(archived.pk),
            interaction_type="chat",
            answers_user=False,
            user_message=None,
        ),
    )
    assert scenario_play_turn(scenario_id=scenario.pk, turn=1) is False
    assert not Interaction.objects.exists()


def test_a_speaker_archived_while_the_lines_are_written_skips_the_turn_and_frees_it(
    ecosystem, cast, monkeypatch
):
    # The apply step refuses inside the turn's own transaction (no savepoint): the
    # transaction stays usable, the turn is skipped and the scenario is free for its next tick.
    # Lines written outside the claim's transaction, as a remote model's are (in-process
    # lines are written with the cast locked: nobody can archive a speaker meanwhile).
    monkeypatch.setattr(scenario_services, "generates_in_process", lambda: False)
    scenario = start(ecosystem, cast)
    written = scenario_services.turn_generate

    def write_then_archive(claim):
        lines = written(claim)
        Character.objects.filter(pk=claim.plan.initiator.pk).update(
            status=Character.Status.ARCHIVED
        )
        return lines

    monkeypatch.setattr(scenario_services, "turn_generate", write_then_archive)
    before = timezone.now()

    assert scenario_play_turn(scenario_id=scenario.pk, turn=1) is False

    scenario.refresh_from_db()
    assert (scenario.turn, scenario.claim_token) == (0, None)
    assert scenario.next_tick_at > before
    assert not Interaction.objects.exists()
    assert not Memory.objects.exists()
    assert not events_of(ecosystem, "character_interaction")


def snapshot(characters):
    fields = ("pleasure", "arousal", "dominance", "emotion", "energy", "status")
    return {c.pk: {f: getattr(c, f) for f in fields} for c in characters}


def test_same_seed_and_same_cast_state_give_the_same_transcript(ecosystem, cast):
    initial = snapshot(Character.objects.filter(pk__in=[c.pk for c in cast]))

    def run():
        now = timezone.now()
        for pk, state in initial.items():
            Character.objects.filter(pk=pk).update(**state, state_updated_at=now)
        Relationship.objects.all().delete()
        Memory.objects.all().delete()  # memories are part of the cast's state too
        MemoryStream.objects.all().delete()
        scenario = start(ecosystem, cast, seed=1234)
        play(scenario, 8)
        transcript = list(
            Interaction.objects.filter(scenario=scenario)
            .order_by("turn")
            .values_list("initiator__name", "target__name", "interaction_type", "content")
        )
        scenario.delete()
        return transcript

    first, second = run(), run()
    assert len(first) == 8
    assert first == second
    assert len({row[:2] for row in first}) > 1, "the floor passes between characters"
