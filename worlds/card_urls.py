"""Character Cards and lorebooks (docs/cards.md). The paths and names are contracts
(docs/api.md); the card paths are the ones they had under characters."""

from core.api import api_route

from .card_apis import (
    CharacterCardImportApi,
    CharacterCardJsonApi,
    CharacterCardPngApi,
    EcosystemLorebookApi,
)

CHARACTER = r"characters/(?P<character_id>[^/]+)"
ECOSYSTEM = r"ecosystem/(?P<ecosystem_id>[^/]+)"

urlpatterns = [
    api_route(
        rf"{ECOSYSTEM}/characters/import", CharacterCardImportApi.as_view(), "character-import"
    ),
    api_route(rf"{CHARACTER}/card\.json", CharacterCardJsonApi.as_view(), "character-card-json"),
    api_route(rf"{CHARACTER}/card\.png", CharacterCardPngApi.as_view(), "character-card-png"),
    api_route(rf"{ECOSYSTEM}/lorebook", EcosystemLorebookApi.as_view(), "ecosystem-lorebook"),
]
