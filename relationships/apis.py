from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from characters.selectors import character_get

from .dynamics import relationship_label_of
from .models import Relationship
from .selectors import relationship_list_for_character


class RelationshipOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    direction = serializers.ChoiceField(choices=("outgoing", "incoming"))
    from_character_id = serializers.UUIDField()
    from_name = serializers.CharField()
    to_character_id = serializers.UUIDField()
    to_name = serializers.CharField()
    other_character_id = serializers.UUIDField()
    other_name = serializers.CharField()
    strength = serializers.FloatField()
    trust = serializers.FloatField()
    interaction_count = serializers.IntegerField()
    last_interaction_at = serializers.DateTimeField(allow_null=True)
    label = serializers.CharField()  # type: ignore[assignment]  # the field is named "label"


class CharacterRelationshipsSerializer(serializers.Serializer):
    character_id = serializers.UUIDField()
    name = serializers.CharField()
    relationships = RelationshipOutputSerializer(many=True)


def relationship_row(relationship: Relationship, *, viewpoint_id: object) -> dict:
    outgoing = relationship.from_character_id == viewpoint_id
    other = relationship.to_character if outgoing else relationship.from_character
    return {
        "id": relationship.pk,
        "direction": "outgoing" if outgoing else "incoming",
        "from_character_id": relationship.from_character_id,
        "from_name": relationship.from_character.name,
        "to_character_id": relationship.to_character_id,
        "to_name": relationship.to_character.name,
        "other_character_id": other.pk,
        "other_name": other.name,
        "strength": relationship.strength,
        "trust": relationship.trust,
        "interaction_count": relationship.interaction_count,
        "last_interaction_at": relationship.last_interaction_at,
        "label": relationship_label_of(relationship),
    }


class CharacterRelationshipsApi(APIView):
    """A character's relationships in both directions, strongest first."""

    @extend_schema(responses=CharacterRelationshipsSerializer)
    def get(self, request: Request, character_id: str) -> Response:
        character = character_get(user=request.user, character_id=character_id)  # type: ignore[arg-type]
        rows = [
            relationship_row(rel, viewpoint_id=character.pk)
            for rel in relationship_list_for_character(character=character)
        ]
        body = {"character_id": character.pk, "name": character.name, "relationships": rows}
        return Response(CharacterRelationshipsSerializer(body).data)
