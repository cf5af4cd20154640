"""A character's memory stream (docs/models.md, "Memory")."""

import uuid

from django.db import models
from django.utils import timezone

from characters.models import Character, Ecosystem


class Memory(models.Model):
    """One entry of a character's memory stream: an exchange it lived through, or a
    reflection it formed from several of them (``cited_ids``)."""

    class Kind(models.TextChoices):
        MEMORY = "memory"
        REFLECTION = "reflection"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="+")
    character = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="memories")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.MEMORY)
    text = models.TextField()
    # What the counterpart said to this character in the exchange ("" for a reflection).
    heard = models.TextField(blank=True, default="")
    importance = models.FloatField()
    created = models.DateTimeField(default=timezone.now)
    # By string: the memories layer sits below the engine and never imports it.
    interaction = models.ForeignKey(
        "interactions.Interaction",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    counterpart = models.ForeignKey(
        Character, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    interaction_type = models.CharField(max_length=16, blank=True, default="")
    # The sentiment of what this character heard (VADER compound, -1..1).
    sentiment = models.FloatField(default=0.0)
    # This character's regard of the counterpart: the change and where it ended.
    strength_delta = models.FloatField(default=0.0)
    trust_delta = models.FloatField(default=0.0)
    strength_after = models.FloatField(default=0.0)
    trust_after = models.FloatField(default=0.0)
    embedding = models.BinaryField(default=b"")
    embedding_model = models.CharField(max_length=64, blank=True, default="")
    embedding_dimension = models.PositiveIntegerField(default=0)
    # For a reflection: the memories it was formed from (ids as strings).
    cited_ids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ("-created",)
        indexes = [
            models.Index(fields=("character", "-created"), name="memory_character_created"),
            models.Index(
                fields=("character", "counterpart", "-created"), name="memory_pair_created"
            ),
            models.Index(fields=("character", "-importance"), name="memory_character_importance"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} of {self.character_id}: {self.text[:40]}"


class MemoryStream(models.Model):
    """Per character: the importance accumulated since its last reflection and how many
    memories it holds, kept under the interaction's lock so neither needs a count."""

    character = models.OneToOneField(
        Character, on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    importance_since_reflection = models.FloatField(default=0.0)
    memory_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"stream of {self.character_id}"
