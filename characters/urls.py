from rest_framework.routers import SimpleRouter

from core.api import api_route

from .apis import (
    CharacterAvatarApi,
    CharacterViewSet,
    EcosystemViewSet,
)

router = SimpleRouter()
router.trailing_slash = "/?"  # optional trailing slash (docs/api.md: REST)
router.register("ecosystems", EcosystemViewSet, basename="ecosystem")
router.register("characters", CharacterViewSet, basename="character")

CHARACTER = r"characters/(?P<character_id>[^/]+)"

# The avatar of an imported card (docs/cards.md; the card endpoints are in worlds.card_urls).
# The router's detail route is characters/{pk} with no further segment: no collision.
urlpatterns = [
    api_route(rf"{CHARACTER}/avatar", CharacterAvatarApi.as_view(), "character-avatar"),
    *router.urls,
]
