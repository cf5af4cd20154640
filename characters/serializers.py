from rest_framework import serializers

from .models import PAD_FIELDS, Character, Ecosystem
from .personality import BIG_FIVE_FIELDS
from .selectors import ecosystem_list


class StrictSerializerMixin:
    """Unknown fields are an error, not silently dropped."""

    def to_internal_value(self, data):  # type: ignore[no-untyped-def]
        if isinstance(data, dict):
            known = set(self.fields)  # type: ignore[attr-defined]
            unknown = sorted(set(data) - known)
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        return super().to_internal_value(data)  # type: ignore[misc]


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
        if self.instance is not None and not isinstance(self.instance, list):
            field.read_only = True
