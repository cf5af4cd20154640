from django.contrib import admin

from .dynamics import relationship_label_of
from .models import Relationship


@admin.register(Relationship)
class RelationshipAdmin(admin.ModelAdmin):
    """Read-mostly: relationships move through interactions, not by hand."""

    list_display = (
        "from_character",
        "to_character",
        "label",
        "strength",
        "trust",
        "interaction_count",
        "last_interaction_at",
        "version",
        "graph_version",
    )
    list_filter = ("ecosystem", "last_interaction_at")
    search_fields = ("from_character__name", "to_character__name")
    list_select_related = ("from_character", "to_character")
    readonly_fields = (
        "ecosystem",
        "from_character",
        "to_character",
        "interaction_count",
        "last_interaction_at",
        "version",
        "graph_version",
        "updated_at",
    )

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    @admin.display(description="label")
    def label(self, relationship: Relationship) -> str:
        return relationship_label_of(relationship)
