from django.contrib import admin
from django.db import transaction
from django.http import HttpRequest

from .models import Chunk, Document
from .services import UPDATABLE_FIELDS, document_create, document_delete, document_update


class ChunkInline(admin.TabularInline):
    model = Chunk
    fields = ("position", "text", "embedding_model", "dimension", "version", "graph_version")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    """Saves go through the services: chunks are rebuilt and re-embedded on every save."""

    list_display = ("title", "ecosystem", "kind", "constant", "order", "enabled", "updated")
    list_filter = ("kind", "enabled", "constant")
    search_fields = ("title", "content")
    filter_horizontal = ("characters",)
    readonly_fields = ("created", "updated")
    inlines = [ChunkInline]

    def save_model(self, request: HttpRequest, obj: Document, form: object, change: bool) -> None:
        fields = {name: getattr(obj, name) for name in UPDATABLE_FIELDS}
        if change:
            document_update(document=obj, **fields)
        else:
            created = document_create(ecosystem=obj.ecosystem, **fields)
            obj.pk = created.pk

    def save_related(
        self, request: HttpRequest, form: object, formsets: object, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[arg-type]
        document = form.instance  # type: ignore[attr-defined]
        with transaction.atomic():
            document_update(
                document=document, character_ids=[c.pk for c in document.characters.all()]
            )

    def delete_model(self, request: HttpRequest, obj: Document) -> None:
        document_delete(document=obj)
