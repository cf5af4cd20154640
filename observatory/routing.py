"""WebSocket routes, mounted by ecosystem_project.asgi behind WebSocketAuthMiddleware."""

from django.urls import re_path

from .consumers import EcosystemConsumer

websocket_urlpatterns = [
    re_path(r"^ws/ecosystem/(?P<ecosystem_id>[^/]+)/?$", EcosystemConsumer.as_asgi()),
]
