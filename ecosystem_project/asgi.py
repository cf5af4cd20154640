"""ASGI entry point: HTTP through Django, WebSocket through Channels with our auth."""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecosystem_project.settings.embedded")
django.setup(set_prefix=False)

from ecosystem_project.asgi_http import http_handler_class  # noqa: E402

# The pooled handler (FAST_HTTP_HANDLER), or Django's own ASGIHandler.
django_asgi_app = http_handler_class()()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from observatory.auth import WebSocketAuthMiddleware  # noqa: E402
from observatory.routing import websocket_urlpatterns  # noqa: E402

# Without a proxy in front (the embedded mode, the tests) Daphne serves /static/ itself,
# straight from the finders; behind nginx (production) SERVE_STATIC is off.
http_app = ASGIStaticFilesHandler(django_asgi_app) if settings.SERVE_STATIC else django_asgi_app

# Built before the first request, as the Celery workers do at start: the template
# backend's grammar library takes seconds to import, and a web process's first interaction
# waited for it (up to ~30 s on a loaded machine; docs/operations.md, the chaos run).
from core.startup import loaded_objects_freeze  # noqa: E402
from interactions.services import dialogue_backend  # noqa: E402

dialogue_backend()
loaded_objects_freeze()

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": WebSocketAuthMiddleware(URLRouter(websocket_urlpatterns)),
    }
)
