from ecosystem_project.api import api_route

from .apis import CharacterRelationshipsApi
from .apis_graph import CharacterNetworkApi, EcosystemInfluenceApi, EcosystemPathApi

urlpatterns = [
    api_route(
        r"relationships/(?P<character_id>[^/]+)",
        CharacterRelationshipsApi.as_view(),
        "character-relationships",
    ),
    # Graph queries (Neo4j). characters/{id}/network does not collide with the characters
    # router: its detail route is characters/{pk} with no further segment.
    api_route(
        r"characters/(?P<character_id>[^/]+)/network",
        CharacterNetworkApi.as_view(),
        "character-network",
    ),
    api_route(
        r"ecosystem/(?P<ecosystem_id>[^/]+)/path", EcosystemPathApi.as_view(), "ecosystem-path"
    ),
    api_route(
        r"ecosystem/(?P<ecosystem_id>[^/]+)/influence",
        EcosystemInfluenceApi.as_view(),
        "ecosystem-influence",
    ),
]
