from ecosystem_project.api import api_route

from .apis.interactions import InteractionCreateApi

urlpatterns = [
    api_route("interactions", InteractionCreateApi.as_view(), "interaction-create"),
]
