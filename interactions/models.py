import uuid

from django.db import models

from characters.models import Character, Ecosystem
from characters.personality import InteractionType


class Interaction(models.Model):
    # The choices, made from the one definition of the vocabulary (characters.personality).
    # django-stubs types only the class syntax of TextChoices, not this functional one.
    Type: type[models.TextChoices] = models.TextChoices(  # type: ignore[call-overload]
        "Type", [(kind.name, kind.value) for kind in InteractionType]
    )

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="interactions")
    scenario = models.ForeignKey(
        "scenarios.Scenario",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="interactions",
    )
    # The scenario turn this interaction played (null outside scenarios); unique per scenario
    # so a turn plays once even if the clock task runs twice.
    turn = models.PositiveIntegerField(null=True, blank=True)
    initiator = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="+")
    target = models.ForeignKey(Character, on_delete=models.CASCADE, related_name="+")
    interaction_type = models.CharField(max_length=16, choices=Type.choices)
    content = models.TextField()
    response = models.TextField()
    content_sentiment = models.FloatField()
    response_sentiment = models.FloatField()
    relationship_change = models.JSONField(default=dict)
    emotional_states = models.JSONField(default=dict)
    user_message = models.ForeignKey(
        "scenarios.UserMessage", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    latency_ms = models.FloatField(default=0.0)
    # What a line recalled: [{line, kind, id, text}] (memories.Memory ids, lore ids).
    drew_on = models.JSONField(default=list, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        # The table and index names it had when it lived in the scenarios app.
        db_table = "scenarios_interaction"
        ordering = ("-created",)
        indexes = [
            models.Index(fields=("ecosystem", "-created"), name="scenarios_i_ecosyst_b2466f_idx"),
            models.Index(fields=("initiator", "-created"), name="scenarios_i_initiat_4db328_idx"),
            models.Index(fields=("target", "-created"), name="scenarios_i_target__25bc89_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=("scenario", "turn"), name="interaction_one_per_turn"),
        ]

    def __str__(self) -> str:
        return f"{self.interaction_type} {self.initiator_id} -> {self.target_id}"
