from django.db import models

from characters.models import SIGNED_UNIT_VALIDATORS, UNIT_VALIDATORS, Character, Ecosystem


class Relationship(models.Model):
    """How ``from_character`` regards ``to_character`` (directed; one row per ordered pair)."""

    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="relationships")
    from_character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="relationships_out"
    )
    to_character = models.ForeignKey(
        Character, on_delete=models.CASCADE, related_name="relationships_in"
    )
    strength = models.FloatField(default=0.0, validators=SIGNED_UNIT_VALIDATORS)
    trust = models.FloatField(default=0.3, validators=UNIT_VALIDATORS)
    interaction_count = models.PositiveIntegerField(default=0)
    last_interaction_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every change; the Neo4j sync writes a version only over an older one.
    version = models.PositiveBigIntegerField(default=1)
    # The newest version Neo4j is known to hold (0: never sent). version > graph_version
    # means the graph is behind for this pair.
    graph_version = models.PositiveBigIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("-strength",)
        constraints = [
            models.UniqueConstraint(
                fields=("from_character", "to_character"), name="relationship_unique_pair"
            ),
            models.CheckConstraint(
                condition=~models.Q(from_character=models.F("to_character")),
                name="relationship_not_self",
            ),
            models.CheckConstraint(
                condition=models.Q(strength__gte=-1.0, strength__lte=1.0),
                name="relationship_strength_range",
            ),
            models.CheckConstraint(
                condition=models.Q(trust__gte=0.0, trust__lte=1.0),
                name="relationship_trust_range",
            ),
        ]
        indexes = [
            models.Index(fields=("to_character",)),
            models.Index(
                fields=("ecosystem",),
                condition=models.Q(version__gt=models.F("graph_version")),
                name="relationship_graph_pending",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.from_character_id} -> {self.to_character_id}"
