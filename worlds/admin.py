"""The Ecosystem admin with world archives (docs/archives.md): the "Export archive" actions
and an "Import a world archive" form; its "Import a card" form brings the card's book in as
lore (worlds.card_services.card_import). The admin itself is characters.admin's; this app
sits above characters, so it registers a subclass in its place."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from characters.admin import EcosystemAdmin
from characters.models import Character, Ecosystem
from core.errors import ApplicationError

from .archive import (
    ARCHIVE_MEDIA_TYPE,
    archive_filename,
    archive_max_bytes,
    ecosystem_export_archive,
    ecosystem_import_archive,
)
from .card_services import card_import


class ArchiveImportForm(forms.Form):
    file = forms.FileField(help_text="A world archive: gzip JSON (*.world.json.gz).")
    owner = forms.ModelChoiceField(
        queryset=get_user_model().objects.order_by("username"),
        help_text="Who owns the imported ecosystem.",
    )


class WorldEcosystemAdmin(EcosystemAdmin):
    actions = ("export_archive", "export_archive_with_events")
    change_list_template = "admin/worlds/ecosystem/change_list.html"

    def import_card(self, *, ecosystem: Ecosystem, data: bytes, filename: str) -> Character:
        # The card's character_book becomes the character's keyed lore, in one transaction.
        return card_import(ecosystem=ecosystem, data=data, filename=filename)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "import-archive/",
                self.admin_site.admin_view(self.import_archive_view),
                name="worlds_ecosystem_import_archive",
            )
        ]
        return own + super().get_urls()

    def _export(
        self, request: HttpRequest, queryset: QuerySet[Ecosystem], *, events: bool
    ) -> HttpResponse | None:
        if queryset.count() != 1:
            self.message_user(
                request, "Select one ecosystem to export as an archive.", messages.WARNING
            )
            return None
        ecosystem = queryset.get()
        response = HttpResponse(
            ecosystem_export_archive(ecosystem=ecosystem, events=events),
            content_type=ARCHIVE_MEDIA_TYPE,
        )
        response["Content-Disposition"] = f'attachment; filename="{archive_filename(ecosystem)}"'
        return response

    @admin.action(description="Export archive (gzip JSON)")
    def export_archive(
        self, request: HttpRequest, queryset: QuerySet[Ecosystem]
    ) -> HttpResponse | None:
        return self._export(request, queryset, events=False)

    @admin.action(description="Export archive with the event log")
    def export_archive_with_events(
        self, request: HttpRequest, queryset: QuerySet[Ecosystem]
    ) -> HttpResponse | None:
        return self._export(request, queryset, events=True)

    def import_archive_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_add_permission(request):
            return HttpResponse(status=403)
        limit = archive_max_bytes()
        form = ArchiveImportForm(
            request.POST or None, request.FILES or None, initial={"owner": request.user}
        )
        if request.method == "POST" and form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                if upload.size > limit:
                    raise ApplicationError(
                        f"The archive is {upload.size} bytes; the limit is {limit} "
                        "(ARCHIVE_MAX_BYTES)."
                    )
                ecosystem = ecosystem_import_archive(
                    owner=form.cleaned_data["owner"], data=upload.read()
                )
            except ApplicationError as error:
                form.add_error("file", error.message)
            else:
                self.message_user(
                    request,
                    f"Imported {ecosystem.name} ({ecosystem.characters.count()} characters).",
                    messages.SUCCESS,
                )
                return HttpResponseRedirect(
                    reverse("admin:characters_ecosystem_change", args=[ecosystem.pk])
                )
        context = {
            **self.admin_site.each_context(request),
            "form": form,
            "limit": limit,
            "opts": self.model._meta,
            "title": "Import a world archive",
        }
        return TemplateResponse(request, "admin/worlds/ecosystem/import_archive.html", context)


admin.site.unregister(Ecosystem)
admin.site.register(Ecosystem, WorldEcosystemAdmin)
