from django.db import models

from characters.models import Ecosystem


class Event(models.Model):
    """One entry of an ecosystem's durable event log; ``seq`` is contiguous per ecosystem."""

    class Type(models.TextChoices):
        CHARACTER_INTERACTION = "character_interaction"
        RELATIONSHIP_CHANGED = "relationship_changed"
        CHARACTER_STATE_CHANGED = "character_state_changed"
        SCENARIO_STARTED = "scenario_started"
        SCENARIO_PAUSED = "scenario_paused"
        SCENARIO_RESUMED = "scenario_resumed"
        SCENARIO_ENDED = "scenario_ended"
        USER_MESSAGE = "user_message"
        MEMORY_FORMED = "memory_formed"
        REFLECTION_FORMED = "reflection_formed"

    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="events")
    seq = models.BigIntegerField()
    type = models.CharField(max_length=40, choices=Type.choices)
    payload = models.JSONField(default=dict)
    created = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        # The table it had when the log lived in the observatory app.
        db_table = "observatory_event"
        ordering = ("ecosystem", "seq")
        constraints = [
            models.UniqueConstraint(fields=("ecosystem", "seq"), name="event_unique_seq"),
        ]

    def __str__(self) -> str:
        return f"{self.ecosystem_id}#{self.seq} {self.type}"

    def envelope(self) -> dict:
        """The JSON shape every client sees (docs/api.md, "Events")."""
        return {
            "seq": self.seq,
            "type": self.type,
            "timestamp": self.created.isoformat(),
            "ecosystem_id": str(self.ecosystem_id),
            "data": self.payload,
        }
