"""The character page lists memories and reflections; the OpenAI prompt carries memories
and lore within its token budget."""

import pytest
from django.test import Client
from django.urls import reverse

from characters.emotion import PAD
from characters.personality import BigFive
from interactions.dialogue.base import DialogueContext, LoreFact, Speaker
from interactions.dialogue.openai_compat import (
    MEMORY_LORE_TOKEN_BUDGET,
    estimated_tokens,
    memory_and_lore_lines,
    system_prompt,
)
from interactions.services import interaction_process
from memories.models import Memory
from memories.recalled import RecalledMemory
from relationships.dynamics import RelationshipState
from tests.factories import CharacterFactory


@pytest.mark.django_db
def test_the_character_page_shows_memories_and_reflections(ecosystem, user, settings):
    settings.MEMORY_REFLECTION_THRESHOLD = 1.0
    otto = CharacterFactory(ecosystem=ecosystem, name="Otto")
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    for line in ("You ruined the parade!", "Your lanterns are ugly.", "Go away, Mira."):
        interaction_process(
            initiator_id=otto.pk, target_id=mira.pk, interaction_type="conflict", content=line
        )
    client = Client()
    client.force_login(user)
    page = client.get(reverse("observatory:character", args=[mira.pk])).content.decode()
    reflection = Memory.objects.filter(character=mira, kind="reflection").first()
    assert reflection is not None
    assert f'id="memory-{reflection.pk}"' in page
    for memory in Memory.objects.filter(character=mira, kind="memory"):
        assert f'id="memory-{memory.pk}"' in page
    assert "Your lanterns are ugly." in page
    assert "Memories and reflections" in page


@pytest.mark.django_db
def test_another_users_character_page_answers_404(ecosystem, other_user):
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    client = Client()
    client.force_login(other_user)
    assert client.get(reverse("observatory:character", args=[mira.pk])).status_code == 404


def speaker(name: str) -> Speaker:
    return Speaker(
        id=name, name=name, bio="", personality=BigFive(0.5, 0.5, 0.5, 0.5, 0.5),
        emotion=PAD(0, 0, 0), energy=1.0,
    )  # fmt: skip


def context(memories=(), lore=()) -> DialogueContext:
    return DialogueContext(
        speaker=speaker("Mira"),
        listener=speaker("Otto"),
        interaction_type="chat",
        relationship=RelationshipState(strength=0.1, trust=0.5, interaction_count=3),
        utterance="How are the boats?",
        memories=tuple(memories),
        lore=tuple(lore),
    )


def memory(index: int, words: int) -> RecalledMemory:
    return RecalledMemory(
        id=f"m{index}", kind="memory", text=f"Memory{index} " + "harbor " * words,
        heard="", counterpart_id="Otto", interaction_type="chat", sentiment=0.0,
        importance=0.5, score=1.0, age_seconds=10.0,
    )  # fmt: skip


def test_the_prompt_carries_memories_then_lore():
    fact = LoreFact(id="7:0", title="Lantern Festival", text="Held on the first full moon.")
    prompt = system_prompt(context([memory(1, 5)], [fact]))
    assert "Memory1 harbor" in prompt
    assert "Lantern Festival: Held on the first full moon." in prompt
    assert prompt.index("Memory1") < prompt.index("Lantern Festival")


def test_memories_and_lore_stay_within_the_token_budget():
    lines = memory_and_lore_lines(
        context(
            [memory(i, 60) for i in range(10)],
            [LoreFact(id="1:0", title="Long", text="word " * 500)],
        )
    )
    text = "\n".join(lines)
    items = [line for line in text.splitlines() if line.startswith("- ")]
    assert items and "Memory0" in items[0]
    assert sum(estimated_tokens(item[2:]) for item in items) <= MEMORY_LORE_TOKEN_BUDGET + 2
    assert "Memory9" not in text  # the budget ran out before the last memories


def test_no_memories_and_no_lore_add_nothing_to_the_prompt():
    assert memory_and_lore_lines(context()) == []
