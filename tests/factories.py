"""factory-boy factories for the domain; they go through the real models and constraints."""

import factory
from django.contrib.auth import get_user_model

from characters.models import Character, Ecosystem
from eventlog import types as event_types


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pass-word-123")

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class EcosystemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Ecosystem

    owner = factory.SubFactory(UserFactory)
    name = factory.Sequence(lambda n: f"Ecosystem {n}")


class CharacterFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Character

    ecosystem = factory.SubFactory(EcosystemFactory)
    name = factory.Sequence(lambda n: f"Character {n}")
    bio = "A test character."
    openness = factory.Faker("pyfloat", min_value=0, max_value=1)
    conscientiousness = factory.Faker("pyfloat", min_value=0, max_value=1)
    extraversion = factory.Faker("pyfloat", min_value=0, max_value=1)
    agreeableness = factory.Faker("pyfloat", min_value=0, max_value=1)
    neuroticism = factory.Faker("pyfloat", min_value=0, max_value=1)


def user_message_event(
    content: str, *, author: str = "tester", turn: int = 0
) -> event_types.EventSpec:
    """A well-formed ``user_message`` event for tests of the log and the stream, which care
    about seqs and bytes rather than about a scenario (the ids name none)."""
    return event_types.user_message(
        scenario_id="00000000-0000-4000-8000-000000000001",
        title="Test scenario",
        turn=turn,
        message_id="00000000-0000-4000-8000-000000000002",
        author=author,
        content=content,
        target_character_id=None,
        target_name=None,
    )
