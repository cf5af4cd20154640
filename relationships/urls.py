from core.api import api_route

from .apis import CharacterRelationshipsApi

urlpatterns = [
    api_route(
        r"relationships/(?P<character_id>[^/]+)",
        CharacterRelationshipsApi.as_view(),
        "character-relationships",
    ),
]
