"""The demo ecosystem `make run` starts with: a user, eight characters, a scenario and four
lore documents (`demo_lore/`) they draw on."""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction

from characters.models import Character, Ecosystem
from characters.services import character_create, ecosystem_create
from lore.models import Document
from lore.services import document_create

from .models import Scenario
from .services import scenario_create, scenario_end

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-ecosystem"
DEMO_ECOSYSTEM_NAME = "Harbor Town"

# name, bio, (openness, conscientiousness, extraversion, agreeableness, neuroticism)
DEMO_CAST = (
    ("Mira", "A restless painter who runs the harbor gallery.", (0.9, 0.35, 0.75, 0.6, 0.55)),
    (
        "Tobias",
        "The harbor master; precise, proud and short on patience.",
        (0.3, 0.9, 0.55, 0.25, 0.4),
    ),
    ("Ines", "A nurse who knows everyone's secrets and keeps them.", (0.6, 0.75, 0.45, 0.9, 0.3)),
    (
        "Rafael",
        "A fisherman and storyteller who never met a stranger.",
        (0.55, 0.3, 0.95, 0.7, 0.2),
    ),
    (
        "Yuki",
        "A quiet astronomer, newly arrived, watching everything.",
        (0.85, 0.7, 0.15, 0.65, 0.6),
    ),
    (
        "Bram",
        "The baker; blunt, generous, quick to anger, quicker to forgive.",
        (0.4, 0.6, 0.7, 0.45, 0.7),
    ),
    ("Selene", "A lawyer home from the city, ambitious and guarded.", (0.65, 0.85, 0.5, 0.3, 0.5)),
    ("Otto", "A retired sailor who distrusts change and newcomers.", (0.2, 0.55, 0.3, 0.35, 0.65)),
)

DEMO_SCENARIO: dict[str, Any] = {
    "title": "The storm festival",
    "setting": "the harbor square, hours before the storm festival opens",
    "mood": "excited but tense",
    "objectives": ["finish the lantern boats before dusk", "decide who leads the parade"],
    "duration_minutes": 240,
    "tick_seconds": 4.0,
    "seed": 7,
}


DEMO_LORE_DIR = Path(__file__).resolve().parent / "demo_lore"

# title, Markdown file under demo_lore/, trigger keys (a keyed entry when any)
DEMO_LORE: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("Harbor Town", "harbor-town.md", ()),
    ("The Gull Point lighthouse", "lighthouse.md", ("lighthouse", "Gull Point", "lamp")),
    ("The storm festival", "storm-festival.md", ()),
    ("The fishing co-op", "fishing-coop.md", ()),
)


@dataclass(frozen=True)
class DemoSeed:
    ecosystem: Ecosystem
    created: bool
    # Demo characters created again because their rows were gone (deleted since).
    restored_characters: tuple[str, ...] = ()
    # Unended scenarios that had lost their cast (fewer than two characters left), ended.
    ended_scenarios: tuple[Scenario, ...] = ()
    # The scenario started now, if none was playing or paused with its cast.
    started_scenario: Scenario | None = None
    # Demo lore documents created now because no document of that title was there.
    added_lore: tuple[str, ...] = ()


def demo_lore_seed(ecosystem: Ecosystem) -> list[str]:
    """Create the demo's lore documents whose title is missing, through the lore services;
    documents that are there (edited or not) are kept. Returns the titles created."""
    present = set(Document.objects.filter(ecosystem=ecosystem).values_list("title", flat=True))
    added = []
    for title, filename, keys in DEMO_LORE:
        if title in present:
            continue
        document_create(
            ecosystem=ecosystem,
            title=title,
            content=(DEMO_LORE_DIR / filename).read_text(encoding="utf-8"),
            kind=Document.Kind.MARKDOWN,
            keys=keys,
            source_name=filename,
        )
        added.append(title)
    return added


@transaction.atomic
def demo_seed() -> DemoSeed:
    """Create the demo user, ecosystem, cast and scenario; run again, bring back what is
    missing and keep the rest.

    The demo is the ``demo`` user's ecosystem named ``Harbor Town``. A demo character whose
    name is no longer in it (deleted) is created again with its authored personality;
    characters that are there, archived or changed, are kept as they are. An unended
    scenario left with fewer than two unarchived characters (its cast deleted) is ended
    (reason ``cast_gone``), and when no scenario is playing or paused the demo scenario is
    started again."""
    user_model = get_user_model()
    user, user_created = user_model.objects.get_or_create(username=DEMO_USERNAME)
    if user_created:
        user.set_password(DEMO_PASSWORD)
        user.save()
    ecosystem = Ecosystem.objects.filter(owner=user, name=DEMO_ECOSYSTEM_NAME).first()
    created = ecosystem is None
    if ecosystem is None:
        ecosystem = ecosystem_create(
            owner=user,
            name=DEMO_ECOSYSTEM_NAME,
            description="A small harbor town on the night of its storm festival.",
        )
    present = set(ecosystem.characters.values_list("name", flat=True))
    restored: list[str] = []
    for name, bio, traits in DEMO_CAST:
        if name in present:
            continue
        openness, conscientiousness, extraversion, agreeableness, neuroticism = traits
        character_create(
            ecosystem=ecosystem,
            name=name,
            bio=bio,
            openness=openness,
            conscientiousness=conscientiousness,
            extraversion=extraversion,
            agreeableness=agreeableness,
            neuroticism=neuroticism,
        )
        restored.append(name)
    ended: list[Scenario] = []
    playable = False
    for scenario in ecosystem.scenarios.exclude(status=Scenario.Status.ENDED).order_by("pk"):
        cast_left = scenario.participants.exclude(status=Character.Status.ARCHIVED).count()
        if cast_left >= 2:
            playable = True
        else:
            ended.append(scenario_end(scenario_id=scenario.pk, reason="cast_gone"))
    started = None
    if not playable:
        cast = list(ecosystem.characters.exclude(status=Character.Status.ARCHIVED)[:6])
        if len(cast) >= 2:
            started = scenario_create(ecosystem=ecosystem, participants=cast, **DEMO_SCENARIO)
    added_lore = demo_lore_seed(ecosystem)
    return DemoSeed(
        ecosystem=ecosystem,
        created=created,
        restored_characters=tuple(restored) if not created else (),
        ended_scenarios=tuple(ended),
        started_scenario=started,
        added_lore=tuple(added_lore),
    )
