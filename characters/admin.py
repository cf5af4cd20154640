from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html

from core.errors import ApplicationError

from .models import PAD_FIELDS, Character, CharacterCard, Ecosystem
from .personality import BIG_FIVE_FIELDS
from .services import character_import_card


def _bar(value: float) -> str:
    filled = round(value * 10)
    return "█" * filled + "░" * (10 - filled) + f" {value:.2f}"


class CardImportForm(forms.Form):
    file = forms.FileField(help_text="JSON, PNG/APNG or CHARX; V1, V2 or V3.")


class CharacterCardInline(admin.StackedInline):
    """The card a character came from: read only (edit the character, export the card)."""

    model = CharacterCard
    extra = 0
    can_delete = False
    fields = ("spec", "container", "avatar_type", "imported", "card_summary")
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="card")
    def card_summary(self, card: CharacterCard) -> str:
        book = card.data.get("character_book") or {}
        return (
            f"creator: {card.data.get('creator') or '-'}; "
            f"version: {card.data.get('character_version') or '-'}; "
            f"tags: {', '.join(card.data.get('tags') or []) or '-'}; "
            f"lorebook entries: {len(book.get('entries') or [])}"
        )


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
    readonly_fields = ("id", "last_seq", "created", "import_card_link")
    inlines = (CharacterInline,)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<uuid:ecosystem_id>/import-card/",
                self.admin_site.admin_view(self.import_card_view),
                name="characters_ecosystem_import_card",
            )
        ]
        return own + super().get_urls()

    @admin.display(description="Character Cards")
    def import_card_link(self, ecosystem: Ecosystem) -> str:
        if ecosystem.pk is None:
            return "-"
        url = reverse("admin:characters_ecosystem_import_card", args=[ecosystem.pk])
        return format_html('<a href="{}">Import a card (JSON, PNG or CHARX)</a>', url)

    def import_card(self, *, ecosystem: Ecosystem, data: bytes, filename: str) -> Character:
        """The import the "Import a card" form calls: the character and its card row. The
        card's book becomes lore only from a layer above lore (worlds.card_services.card_import);
        an admin registered there overrides this."""
        return character_import_card(ecosystem=ecosystem, data=data, filename=filename)

    def import_card_view(self, request: HttpRequest, ecosystem_id: object) -> HttpResponse:
        ecosystem = get_object_or_404(Ecosystem, pk=ecosystem_id)
        if not self.has_change_permission(request, ecosystem):
            return HttpResponse(status=403)
        form = CardImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > settings.CARD_IMPORT_MAX_BYTES:
                    raise ApplicationError(
                        f"The card is over the limit of {settings.CARD_IMPORT_MAX_BYTES} bytes."
                    )
                character = self.import_card(
                    ecosystem=ecosystem, data=upload.read(), filename=upload.name or ""
                )
            except ApplicationError as error:
                form.add_error("file", error.message)
            else:
                self.message_user(request, f"Imported {character.name}.", messages.SUCCESS)
                return HttpResponseRedirect(
                    reverse("admin:characters_character_change", args=[character.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "ecosystem": ecosystem,
            "form": form,
            "limit": settings.CARD_IMPORT_MAX_BYTES,
            "title": "Import a Character Card",
        }
        return TemplateResponse(request, "admin/characters/ecosystem/import_card.html", context)

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
    inlines = (CharacterCardInline,)
    fieldsets = (
        (None, {"fields": ("id", "ecosystem", "name", "bio", "status")}),
        ("Voice", {"fields": ("greetings", "voice_examples")}),
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
