from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from .models import Interaction


@admin.register(Interaction)
class InteractionAdmin(admin.ModelAdmin):
    """Read-mostly: interactions are history, written only by the engine."""

    list_display = (
        "created",
        "interaction_type",
        "initiator",
        "target",
        "scenario",
        "turn",
        "short_content",
        "latency_ms",
    )
    list_filter = ("interaction_type", "ecosystem", "scenario", "created")
    search_fields = ("content", "response", "initiator__name", "target__name")
    list_select_related = ("initiator", "target", "scenario")
    date_hierarchy = "created"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="content")
    def short_content(self, interaction: Interaction) -> str:
        text = interaction.content
        return text if len(text) <= 80 else text[:77] + "..."
