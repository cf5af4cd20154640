"""ASGI entry point: HTTP through Django, WebSocket through Channels with our auth."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecosystem_project.settings.embedded")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from observatory.auth import WebSocketAuthMiddleware  # noqa: E402
from observatory.routing import websocket_urlpatterns  # noqa: E402

# Without a proxy in front (the embedded mode, the tests) Daphne serves /static/ itself,
# straight from the finders; behind nginx (production) SERVE_STATIC is off.
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
