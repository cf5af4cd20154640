from rest_framework.routers import SimpleRouter

from core.api import api_route

from .apis import (
    CharacterAvatarApi,
    CharacterCardImportApi,
    CharacterCardJsonApi,
    CharacterCardPngApi,
    CharacterViewSet,
    EcosystemViewSet,
)

router = SimpleRouter()
router.trailing_slash = "/?"  # optional trailing slash (docs/api.md: REST)
router.register("ecosystems", EcosystemViewSet, basename="ecosystem")
router.register("characters", CharacterViewSet, basename="character")

CHARACTER = r"characters/(?P<character_id>[^/]+)"

# Character Cards (docs/cards.md). The router's detail route is characters/{pk} with no
# further segment, so these do not collide with it.
urlpatterns = [
    api_route(
        r"ecosystem/(?P<ecosystem_id>[^/]+)/characters/import",
        CharacterCardImportApi.as_view(),
        "character-import",
    ),
    api_route(rf"{CHARACTER}/card\.json", CharacterCardJsonApi.as_view(), "character-card-json"),
    api_route(rf"{CHARACTER}/card\.png", CharacterCardPngApi.as_view(), "character-card-png"),
    api_route(rf"{CHARACTER}/avatar", CharacterAvatarApi.as_view(), "character-avatar"),
    *router.urls,
]
