from django.contrib import admin
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from .models import PAD_FIELDS, Character, Ecosystem
from .personality import BIG_FIVE_FIELDS


def _bar(value: float) -> str:
    filled = round(value * 10)
    return "█" * filled + "░" * (10 - filled) + f" {value:.2f}"


class CharacterInline(admin.TabularInline):
    model = Character
    extra = 0
    fields = ("name", "status", *BIG_FIVE_FIELDS, "energy", "emotion")
    readonly_fields = ("emotion",)
    show_change_link = True


@admin.register(Ecosystem)
class EcosystemAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "character_count", "last_seq", "created")
    list_filter = ("created",)
    search_fields = ("name", "description", "owner__username")
    readonly_fields = ("id", "last_seq", "created")
    inlines = (CharacterInline,)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Ecosystem]:
        return (
            super()
            .get_queryset(request)
            .select_related("owner")
            .annotate(_character_count=Count("characters"))
        )

    @admin.display(description="characters", ordering="_character_count")
    def character_count(self, ecosystem: Ecosystem) -> int:
        return ecosystem._character_count  # type: ignore[attr-defined]


@admin.register(Character)
class CharacterAdmin(admin.ModelAdmin):
    list_display = ("name", "ecosystem", "status", "emotion", "energy_bar", "personality_summary")
    list_filter = ("status", "emotion", "ecosystem")
    search_fields = ("name", "bio", "ecosystem__name")
    list_select_related = ("ecosystem",)
    readonly_fields = ("id", "emotion", "personality_readable", "state_updated_at", "created")
    fieldsets = (
        (None, {"fields": ("id", "ecosystem", "name", "bio", "status")}),
        (
            "Personality (Big Five, 0..1)",
            {"fields": (*BIG_FIVE_FIELDS, "personality_readable")},
        ),
        (
            "Emotion (PAD, -1..1) and energy",
            {"fields": (*PAD_FIELDS, "emotion", "energy", "state_updated_at")},
        ),
    )

    @admin.display(description="energy", ordering="energy")
    def energy_bar(self, character: Character) -> str:
        return _bar(character.energy)

    @admin.display(description="personality (O C E A N)")
    def personality_summary(self, character: Character) -> str:
        return " ".join(f"{getattr(character, field):.1f}" for field in BIG_FIVE_FIELDS)

    @admin.display(description="personality at a glance")
    def personality_readable(self, character: Character) -> str:
        rows = [
            f"{field.capitalize():<18} {_bar(getattr(character, field))}"
            for field in BIG_FIVE_FIELDS
        ]
        return "\n".join(rows)
