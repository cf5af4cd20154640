"""`manage.py seed_demo` (issue 17): run again after the demo's cast was deleted, it brings
the cast and a playing scenario back and says so, instead of keeping an empty demo."""

from io import StringIO

import pytest
from django.core.management import call_command

from characters.models import Character, Ecosystem
from scenarios.demo import DEMO_CAST, DEMO_ECOSYSTEM_NAME, DEMO_SCENARIO
from scenarios.models import Scenario

pytestmark = pytest.mark.django_db(transaction=True)

CAST_NAMES = {name for name, _, _ in DEMO_CAST}


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def demo() -> Ecosystem:
    return Ecosystem.objects.get(owner__username="demo", name=DEMO_ECOSYSTEM_NAME)


def playing(ecosystem: Ecosystem) -> list[Scenario]:
    return list(ecosystem.scenarios.exclude(status=Scenario.Status.ENDED))


def test_first_run_creates_the_cast_and_a_playing_scenario():
    output = seed_demo()
    assert f"Created demo ecosystem '{DEMO_ECOSYSTEM_NAME}' ({len(DEMO_CAST)} characters)" in (
        output
    )
    assert "Started scenario" in output
    assert set(demo().characters.values_list("name", flat=True)) == CAST_NAMES
    [scenario] = playing(demo())
    assert scenario.status == Scenario.Status.ACTIVE


def test_a_second_run_changes_nothing_and_says_so():
    seed_demo()
    output = seed_demo()
    assert f"Kept demo ecosystem '{DEMO_ECOSYSTEM_NAME}' ({len(DEMO_CAST)} characters)" in output
    assert "Restored" not in output and "Started" not in output and "Ended" not in output
    assert demo().characters.count() == len(DEMO_CAST)
    assert len(playing(demo())) == 1


def test_after_the_whole_cast_is_deleted_it_is_restored_with_a_new_scenario():
    seed_demo()
    ecosystem = demo()
    [old_scenario] = playing(ecosystem)
    Character.objects.filter(ecosystem=ecosystem).delete()

    output = seed_demo()

    assert f"({len(DEMO_CAST)} characters)" in output
    assert f"Restored {len(DEMO_CAST)} deleted demo characters: Mira, Tobias" in output
    assert f"Ended scenario '{DEMO_SCENARIO['title']}': its cast was gone." in output
    assert f"Started scenario '{DEMO_SCENARIO['title']}' with 6 characters." in output
    restored = {c.name: c for c in ecosystem.characters.all()}
    assert set(restored) == CAST_NAMES
    for name, bio, traits in DEMO_CAST:
        character = restored[name]
        assert character.bio == bio
        assert (
            character.openness,
            character.conscientiousness,
            character.extraversion,
            character.agreeableness,
            character.neuroticism,
        ) == pytest.approx(traits)
    old_scenario.refresh_from_db()
    assert old_scenario.status == Scenario.Status.ENDED
    [scenario] = playing(ecosystem)
    assert scenario.status == Scenario.Status.ACTIVE
    assert scenario.participants.count() == 6


def test_a_partly_deleted_cast_is_completed_and_the_scenario_kept_while_it_can_play():
    seed_demo()
    ecosystem = demo()
    [scenario] = playing(ecosystem)
    Character.objects.filter(ecosystem=ecosystem, name__in=["Mira", "Otto"]).delete()
    kept_ids = set(ecosystem.characters.values_list("pk", flat=True))

    output = seed_demo()

    assert "Restored 2 deleted demo characters: Mira, Otto." in output
    assert "Started" not in output and "Ended" not in output
    assert set(ecosystem.characters.values_list("name", flat=True)) == CAST_NAMES
    assert kept_ids <= set(ecosystem.characters.values_list("pk", flat=True))
    assert playing(ecosystem) == [scenario]


def test_an_ended_scenario_is_replaced_by_a_playing_one():
    from scenarios.services import scenario_end

    seed_demo()
    [scenario] = playing(demo())
    scenario_end(scenario_id=scenario.pk)

    output = seed_demo()

    assert "Started scenario" in output and "Restored" not in output
    assert len(playing(demo())) == 1
