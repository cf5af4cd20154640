import uuid

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from .personality import BIG_FIVE_FIELDS, BigFive

UNIT_VALIDATORS = [MinValueValidator(0.0), MaxValueValidator(1.0)]
SIGNED_UNIT_VALIDATORS = [MinValueValidator(-1.0), MaxValueValidator(1.0)]
PAD_FIELDS = ("pleasure", "arousal", "dominance")


class Ecosystem(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="ecosystems"
    )
    name = models.CharField(max_length=120)
    description = models.TextField(blank=True, max_length=4000)
    # The last event sequence number handed out; advanced under a row lock by the event log.
    last_seq = models.BigIntegerField(default=0, editable=False)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created",)
        constraints = [
            models.CheckConstraint(
                condition=models.Q(last_seq__gte=0), name="ecosystem_last_seq_non_negative"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Character(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        RESTING = "resting", "Resting"
        ARCHIVED = "archived", "Archived"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    ecosystem = models.ForeignKey(Ecosystem, on_delete=models.CASCADE, related_name="characters")
    name = models.CharField(max_length=80)
    bio = models.TextField(blank=True, max_length=2000)

    openness = models.FloatField(default=0.5, validators=UNIT_VALIDATORS)
    conscientiousness = models.FloatField(default=0.5, validators=UNIT_VALIDATORS)
    extraversion = models.FloatField(default=0.5, validators=UNIT_VALIDATORS)
    agreeableness = models.FloatField(default=0.5, validators=UNIT_VALIDATORS)
    neuroticism = models.FloatField(default=0.5, validators=UNIT_VALIDATORS)

    pleasure = models.FloatField(default=0.0, validators=SIGNED_UNIT_VALIDATORS)
    arousal = models.FloatField(default=0.0, validators=SIGNED_UNIT_VALIDATORS)
    dominance = models.FloatField(default=0.0, validators=SIGNED_UNIT_VALIDATORS)
    emotion = models.CharField(max_length=20, default="neutral", editable=False)
    energy = models.FloatField(default=1.0, validators=UNIT_VALIDATORS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    # What the character opens a conversation with (a card's first_mes, then its
    # alternate_greetings), and example dialogue in its voice (a card's mes_example). Stored
    # for the dialogue backends; docs/cards.md.
    greetings = models.JSONField(default=list, blank=True)
    voice_examples = models.TextField(blank=True, default="", max_length=20000)

    # When emotion and energy were last brought up to date (decay and recovery run from here).
    state_updated_at = models.DateTimeField(auto_now_add=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("name",)
        indexes = [models.Index(fields=("ecosystem", "status"))]
        constraints = [
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{field}__gte": 0.0, f"{field}__lte": 1.0}),
                    name=f"character_{field}_0_1",
                )
                for field in (*BIG_FIVE_FIELDS, "energy")
            ),
            *(
                models.CheckConstraint(
                    condition=models.Q(**{f"{field}__gte": -1.0, f"{field}__lte": 1.0}),
                    name=f"character_{field}_pad_range",
                )
                for field in PAD_FIELDS
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def personality(self) -> BigFive:
        return BigFive(
            openness=self.openness,
            conscientiousness=self.conscientiousness,
            extraversion=self.extraversion,
            agreeableness=self.agreeableness,
            neuroticism=self.neuroticism,
        )


class CharacterCard(models.Model):
    """The card a character was imported from: every field of its data (unknown ones and
    the character_book included) and its image, kept apart from ``Character`` so the hot
    path never loads the avatar's bytes (docs/cards.md)."""

    character = models.OneToOneField(
        Character, on_delete=models.CASCADE, primary_key=True, related_name="card"
    )
    spec = models.CharField(max_length=20)  # chara_card_v1 | chara_card_v2 | chara_card_v3
    container = models.CharField(max_length=10)  # json | png | charx
    data = models.JSONField(default=dict, blank=True)
    # The avatar image itself (PNG, JPEG, WebP or GIF), in the database so it moves with
    # the world (move_to_postgres, archives); served to the owner only.
    avatar = models.BinaryField(null=True, blank=True, editable=False)
    avatar_type = models.CharField(max_length=20, blank=True, default="")
    imported = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"card of {self.character_id} ({self.spec})"
