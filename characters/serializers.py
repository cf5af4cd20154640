from rest_framework import serializers

from core.serializers import StrictSerializerMixin

from .models import PAD_FIELDS, Character, Ecosystem
from .personality import BIG_FIVE_FIELDS
from .selectors import ecosystem_list

__all__ = ["CharacterSerializer", "EcosystemSerializer", "StrictSerializerMixin"]


class EcosystemSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    character_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Ecosystem
        fields = ("id", "name", "description", "last_seq", "character_count", "created")
        read_only_fields = ("id", "last_seq", "created")


class CharacterSerializer(StrictSerializerMixin, serializers.ModelSerializer):
    ecosystem = serializers.PrimaryKeyRelatedField(queryset=Ecosystem.objects.none())
    # What the character opens a conversation with (from a card's first_mes and
    # alternate_greetings; docs/cards.md).
    greetings = serializers.ListField(
        child=serializers.CharField(max_length=4000), max_length=100, required=False
    )

    class Meta:
        model = Character
        fields = (
            "id",
            "ecosystem",
            "name",
            "bio",
            *BIG_FIVE_FIELDS,
            *PAD_FIELDS,
            "emotion",
            "energy",
            "status",
            "greetings",
            "voice_examples",
            "created",
        )
        read_only_fields = ("id", "emotion", "created")

    def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        field = self.fields["ecosystem"]
        if request is not None and request.user.is_authenticated:
            # A foreign ecosystem id reads as "does not exist": no hint it is someone's.
            field.queryset = ecosystem_list(user=request.user)  # type: ignore[attr-defined]

    def validate_ecosystem(self, ecosystem: Ecosystem) -> Ecosystem:
        # A PUT names the ecosystem like a POST (the schema requires it), but a character
        # does not move: another ecosystem than its own is refused.
        if self.instance is not None and ecosystem.pk != self.instance.ecosystem_id:  # type: ignore[union-attr]
            raise serializers.ValidationError("A character cannot move to another ecosystem.")
        return ecosystem

    def validate(self, attrs: dict) -> dict:
        if self.instance is not None:
            attrs.pop("ecosystem", None)  # checked above; character_update takes no ecosystem
        return attrs
