"""REST endpoint of the interaction engine (mounted under /api/v1/)."""

from core.api import api_route

from .apis import InteractionCreateApi

urlpatterns = [
    api_route("interactions", InteractionCreateApi.as_view(), "interaction-create"),
]
