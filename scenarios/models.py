import uuid

from django.conf import settings
from django.db import models

from characters.models import Character, Ecosystem


class Scenario(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active"
        PAUSED = "paused"
        ENDED = "ended"

    class Mode(models.TextChoices):
        OBSERVER = "observer"
        PARTICIPANT = "participant"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="scenarios")
    title = models.CharField(max_length=200)
    setting = models.TextField(blank=True, max_length=2000)
    mood = models.CharField(max_length=200, blank=True)
    objectives = models.JSONField(default=list, blank=True)
    participants = models.ManyToManyField(Character, related_name="scenarios")
    duration_minutes = models.PositiveIntegerField(default=10)
    tick_seconds = models.FloatField(default=5.0)
    seed = models.BigIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.OBSERVER)
    turn = models.PositiveIntegerField(default=0)
    # Ids of the latest speakers, oldest first (opener, answerer per exchange): what the
    # director needs to keep anyone from hogging the floor, kept here so a turn need not
    # read the transcript.
    recent_speakers = models.JSONField(default=list, blank=True)
    next_tick_at = models.DateTimeField(null=True, blank=True)
    # Set while a clock generates the next turn's lines outside any transaction (its
    # next_tick_at is then the claim's lease): the apply step plays the turn only if the
    # token is still its own. Cleared by the apply, a pause, a resume and the end.
    claim_token = models.UUIDField(null=True, blank=True, editable=False)
    started_at = models.DateTimeField(auto_now_add=True)
    # Time spent active so far, excluding pauses; the scenario ends when it reaches duration.
    active_seconds = models.FloatField(default=0.0)
    resumed_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-started_at",)
        indexes = [models.Index(fields=("status", "next_tick_at"))]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(tick_seconds__gte=1.0), name="scenario_tick_min_1s"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gte=1), name="scenario_duration_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.title


class UserMessage(models.Model):
    """A person's message into a participant-mode scenario, answered on the next turn."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scenario = models.ForeignKey(Scenario, on_delete=models.CASCADE, related_name="user_messages")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    content = models.TextField(max_length=2000)
    target_character = models.ForeignKey(
        Character, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created",)

    def __str__(self) -> str:
        return self.content[:40]
