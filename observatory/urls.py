"""REST endpoints of the observatory app (mounted under /api/v1/)."""

from ecosystem_project.api import api_route

from .apis import EventListApi

ECOSYSTEM = r"ecosystem/(?P<ecosystem_id>[^/]+)"

urlpatterns = [
    api_route(f"{ECOSYSTEM}/events", EventListApi.as_view(), "ecosystem-events"),
]
