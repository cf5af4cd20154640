"""Reads for ecosystems and characters, always scoped to the requesting user."""

from typing import TypeVar

from django.contrib.auth.models import User
from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Count, Model, QuerySet
from django.http import Http404

from .models import Character, Ecosystem

T = TypeVar("T", bound=Model)


def ecosystem_list(*, user: User) -> QuerySet[Ecosystem]:
    return Ecosystem.objects.filter(owner=user).annotate(
        character_count=Count("characters", distinct=True)
    )


def character_list(*, user: User) -> QuerySet[Character]:
    return Character.objects.filter(ecosystem__owner=user).select_related("ecosystem")


def get_or_404(queryset: QuerySet[T], pk: object) -> T:
    """The row with this primary key, or Http404 (also for a malformed id)."""
    try:
        return queryset.get(pk=pk)
    except (ObjectDoesNotExist, ValidationError, ValueError, TypeError):
        raise Http404("Not found.") from None


def ecosystem_get(*, user: User, ecosystem_id: object) -> Ecosystem:
    """The user's ecosystem, or Http404 (another user's ecosystem is not found either)."""
    return get_or_404(Ecosystem.objects.filter(owner=user), ecosystem_id)


def character_get(*, user: User, character_id: object) -> Character:
    return get_or_404(character_list(user=user), character_id)
