"""Serve HTTP + WebSocket with Daphne and, in the embedded mode, drive the scenario clock
in-process (in the full stack Celery beat drives it)."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import DatabaseError

logger = logging.getLogger(__name__)

CLOCK_PERIOD_SECONDS = 1.0


async def clock_loop() -> None:
    from scenarios.services import clock_tick

    while True:
        try:
            # thread_sensitive: shares Django's one sync thread, so SQLite sees one writer.
            await sync_to_async(clock_tick, thread_sensitive=True)()
        except DatabaseError as error:
            logger.warning("Scenario clock tick failed: %s", error)
        await asyncio.sleep(CLOCK_PERIOD_SECONDS)


class Command(BaseCommand):
    help = "Serve the ecosystem with Daphne (HTTP + WebSocket) and tick scenarios in-process."

    def add_arguments(self, parser):  # type: ignore[no-untyped-def]
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--clock",
            choices=("auto", "on", "off"),
            default="auto",
            help="auto: tick in-process unless a Celery broker (REDIS_URL) is configured.",
        )

    def handle(self, *args: object, **options: object) -> None:
        from channels.routing import get_default_application
        from daphne.endpoints import build_endpoint_description_strings
        from daphne.server import Server
        from twisted.internet import reactor

        # settings.ASGI_APPLICATION (the project's root), named by setting, not imported:
        # apps sit below the project in the layers. Importing it builds the dialogue
        # backend, so no turn waits for it.
        application = get_default_application()

        clock = options["clock"] == "on" or (options["clock"] == "auto" and not settings.REDIS_URL)
        if clock:
            reactor.callLater(0.5, lambda: asyncio.ensure_future(clock_loop()))  # type: ignore[attr-defined,arg-type]
        host, port = str(options["host"]), int(options["port"])  # type: ignore[call-overload]
        clock_name = "in-process" if clock else "Celery beat"
        self.stdout.write(f"Serving on http://{host}:{port}/  (scenario clock: {clock_name})")
        Server(
            application=application,
            endpoints=build_endpoint_description_strings(host=host, port=port),
            http_timeout=120,
            websocket_timeout=86400,
            websocket_handshake_timeout=10,
            ping_interval=settings.WS_HEARTBEAT_SECONDS,
            ping_timeout=settings.WS_HEARTBEAT_SECONDS * 2,
        ).run()
