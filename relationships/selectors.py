"""Reads of relationships, scoped to the requesting user's characters."""

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from characters.models import Character

from .dynamics import relationship_label
from .models import Relationship


def relationship_list_for_character(*, character: Character) -> QuerySet[Relationship]:
    """Both directions: how the character regards others, and how others regard it."""
    return (
        Relationship.objects.filter(Q(from_character=character) | Q(to_character=character))
        .select_related("from_character", "to_character")
        .order_by("-strength", "pk")
    )


def relationship_list(*, user: AbstractBaseUser) -> QuerySet[Relationship]:
    return Relationship.objects.filter(ecosystem__owner=user).select_related(
        "from_character", "to_character"
    )


def relationship_label_of(relationship: Relationship) -> str:
    return relationship_label(
        relationship.strength, relationship.trust, relationship.interaction_count
    )
