"""The portability endpoints (docs/cards.md, docs/archives.md): Character Cards and lorebooks
in card_urls, world archives in archive_urls."""

from django.urls import include, path

urlpatterns = [
    path("", include("worlds.card_urls")),
    path("", include("worlds.archive_urls")),
]
