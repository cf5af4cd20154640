"""REST endpoints of the observatory (mounted under /api/v1/): the event log, the
dashboard and the graph reads (Neo4j)."""

from core.api import api_route

from .apis.dashboard import EcosystemDashboardApi, EcosystemGraphApi
from .apis.events import EventListApi
from .apis.graph import CharacterNetworkApi, EcosystemInfluenceApi, EcosystemPathApi

ECOSYSTEM = r"ecosystem/(?P<ecosystem_id>[^/]+)"

urlpatterns = [
    api_route(f"{ECOSYSTEM}/events", EventListApi.as_view(), "ecosystem-events"),
    api_route(f"{ECOSYSTEM}/dashboard", EcosystemDashboardApi.as_view(), "ecosystem-dashboard"),
    api_route(f"{ECOSYSTEM}/graph", EcosystemGraphApi.as_view(), "ecosystem-graph"),
    # characters/{id}/network does not collide with the characters router: its detail
    # route is characters/{pk} with no further segment.
    api_route(
        r"characters/(?P<character_id>[^/]+)/network",
        CharacterNetworkApi.as_view(),
        "character-network",
    ),
    api_route(f"{ECOSYSTEM}/path", EcosystemPathApi.as_view(), "ecosystem-path"),
    api_route(f"{ECOSYSTEM}/influence", EcosystemInfluenceApi.as_view(), "ecosystem-influence"),
]
