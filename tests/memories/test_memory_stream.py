"""Every interaction leaves a memory per participant; reflections, pruning, and lines that
draw on a memory or on lore, all through the real engine."""

import pytest

from eventlog.models import Event
from interactions.services import interaction_process
from memories.models import Memory
from tests.factories import CharacterFactory

TRAITS = dict(
    openness=0.6, conscientiousness=0.5, extraversion=0.7, agreeableness=0.3, neuroticism=0.6
)


@pytest.fixture
def otto_and_mira(ecosystem):
    return (
        CharacterFactory(ecosystem=ecosystem, name="Otto", **TRAITS),
        CharacterFactory(ecosystem=ecosystem, name="Mira", **TRAITS),
    )


@pytest.mark.django_db
def test_an_interaction_leaves_one_memory_for_each_participant_and_an_event(otto_and_mira):
    otto, mira = otto_and_mira
    result = interaction_process(
        initiator_id=otto.pk,
        target_id=mira.pk,
        interaction_type="conflict",
        content="Your lanterns are ugly, Mira.",
    )
    memories = {m.character_id: m for m in Memory.objects.filter(interaction=result.interaction)}
    assert set(memories) == {otto.pk, mira.pk}
    assert memories[mira.pk].counterpart_id == otto.pk
    assert memories[mira.pk].heard == "Your lanterns are ugly, Mira."
    assert memories[otto.pk].heard == result.interaction.response
    for memory in memories.values():
        assert memory.kind == "memory"
        assert 0 < memory.importance <= 1
        assert (
            memory.embedding_dimension > 0
            and len(memory.embedding) == 4 * memory.embedding_dimension
        )
    # Mira's memory records how her regard of Otto moved.
    assert memories[mira.pk].strength_delta == pytest.approx(
        result.relationship_change["reverse"]["strength_delta"]
    )
    event = Event.objects.get(ecosystem=otto.ecosystem, type="memory_formed")
    assert event.seq == result.event_seq
    assert {m["memory_id"] for m in event.payload["memories"]} == {
        str(m.pk) for m in memories.values()
    }


@pytest.mark.django_db
def test_a_reflection_forms_past_the_threshold_and_cites_the_memories_it_came_from(
    otto_and_mira, settings
):
    settings.MEMORY_REFLECTION_THRESHOLD = 1.5
    otto, mira = otto_and_mira
    for line in ("You ruined the parade!", "Your boat is a disgrace.", "I hate your lanterns."):
        interaction_process(
            initiator_id=otto.pk, target_id=mira.pk, interaction_type="conflict", content=line
        )
    reflection = Memory.objects.filter(character=mira, kind="reflection").first()
    assert reflection is not None
    assert reflection.counterpart_id == otto.pk
    assert "Otto" in reflection.text
    cited = Memory.objects.filter(pk__in=reflection.cited_ids)
    assert cited.count() == len(reflection.cited_ids) >= 2
    assert {m.character_id for m in cited} == {mira.pk}
    assert {m.counterpart_id for m in cited} == {otto.pk}
    event = Event.objects.get(
        ecosystem=otto.ecosystem, type="reflection_formed", payload__character_id=str(mira.pk)
    )
    assert event.payload["memory_id"] == str(reflection.pk)
    assert event.payload["cited_ids"] == reflection.cited_ids


@pytest.mark.django_db
def test_memory_is_pruned_to_the_retention_keeping_the_important(otto_and_mira, settings):
    settings.MEMORY_RETENTION_PER_CHARACTER = 4
    settings.MEMORY_REFLECTION_THRESHOLD = 1000.0
    otto, mira = otto_and_mira
    interaction_process(
        initiator_id=otto.pk,
        target_id=mira.pk,
        interaction_type="conflict",
        content="I will never forgive you for burning the harbor, you liar!",
    )
    important = Memory.objects.get(character=mira)
    for _ in range(8):
        interaction_process(
            initiator_id=otto.pk, target_id=mira.pk, interaction_type="greeting", content="Hi."
        )
    # Pruned once past the retention and its slack: never more than 10% over.
    assert Memory.objects.filter(character=mira).count() <= 4 * 1.1 + 1
    assert Memory.objects.filter(pk=important.pk).exists()


@pytest.mark.django_db
def test_a_character_brings_up_a_relevant_earlier_exchange(otto_and_mira):
    otto, mira = otto_and_mira
    first = interaction_process(
        initiator_id=otto.pk,
        target_id=mira.pk,
        interaction_type="conflict",
        content="Your lanterns are ugly, Mira.",
    )
    remembered = Memory.objects.get(interaction=first.interaction, character=mira)
    second = interaction_process(
        initiator_id=otto.pk,
        target_id=mira.pk,
        interaction_type="chat",
        content="Are you still making lanterns for the festival?",
        seed=3,
    )
    drew_on = second.interaction.drew_on
    assert {"line": "response", "kind": "memory", "id": str(remembered.pk)}.items() <= next(
        iter(source for source in drew_on if source["line"] == "response")
    ).items()
    # What she recalls is in her line.
    assert "lanterns are ugly" in second.interaction.response
    event = Event.objects.get(
        ecosystem=otto.ecosystem,
        type="character_interaction",
        payload__interaction_id=str(second.interaction.pk),
    )
    assert event.payload["drew_on"] == drew_on


@pytest.mark.django_db
def test_nothing_recalled_leaves_drew_on_empty(otto_and_mira):
    otto, mira = otto_and_mira
    result = interaction_process(
        initiator_id=otto.pk, target_id=mira.pk, interaction_type="greeting", content="Hello!"
    )
    assert result.interaction.drew_on == []


@pytest.mark.django_db(transaction=True)
def test_a_character_answers_a_question_about_a_lore_fact(ecosystem):
    from lore.services import document_create

    otto = CharacterFactory(ecosystem=ecosystem, name="Otto", **TRAITS)
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira", **TRAITS)
    document = document_create(
        ecosystem=ecosystem,
        title="The Lantern Festival",
        content="The Lantern Festival is held on the first full moon of autumn, when every "
        "boat in the harbor carries a paper lantern out to the lighthouse.",
        keys=["lantern festival"],
    )
    result = interaction_process(
        initiator_id=otto.pk,
        target_id=mira.pk,
        interaction_type="chat",
        content="When is the Lantern Festival held?",
    )
    response = result.interaction.response
    assert "first full moon of autumn" in response
    lore = [source for source in result.interaction.drew_on if source["kind"] == "lore"]
    assert lore and lore[0]["line"] == "response"
    assert lore[0]["id"].startswith(f"{document.pk}:")
