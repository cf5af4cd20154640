"""REST of the memories (mounted under /api/v1/)."""

from core.api import api_route

from .apis import CharacterMemoriesApi

urlpatterns = [
    # characters/{id}/memories does not collide with the characters router (its detail
    # route has no further segment).
    api_route(
        r"characters/(?P<character_id>[^/]+)/memories",
        CharacterMemoriesApi.as_view(),
        "character-memories",
    ),
]
