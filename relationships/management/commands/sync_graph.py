"""manage.py sync_graph [--ecosystem ID] [--rebuild] [--batch-size N]

Sends every relationship whose version Neo4j lacks (the same pass the periodic reconcile
makes), or with --rebuild deletes the graph (or one ecosystem's part) and sends everything
again from PostgreSQL. Shows a progress bar on stderr and prints counts and the rate.
"""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.management.progress import ProgressBar
from characters.models import Ecosystem
from relationships.graph import (
    GRAPH_UNAVAILABLE_ERRORS,
    SyncReport,
    graph_is_configured,
    graph_rebuild,
    graph_sync_pending,
)


class Command(BaseCommand):
    help = (
        "Send pending relationship versions to Neo4j, or rebuild the graph from PostgreSQL "
        "(--rebuild). Needs NEO4J_BOLT_URL."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ecosystem", metavar="ID", help="Only this ecosystem (UUID).")
        parser.add_argument(
            "--rebuild",
            action="store_true",
            help="Delete the graph (or the ecosystem's part) and send everything again.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=settings.GRAPH_SYNC_BATCH_SIZE,
            help="Relationships per UNWIND batch (default %(default)s).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_is_configured():
            raise CommandError(
                "Neo4j is not configured: NEO4J_BOLT_URL is unset, so there is no graph to "
                "sync. Start the services (make services) and load var/services.env "
                "(set -a; . var/services.env; set +a). Relationship changes stay pending in "
                "PostgreSQL until then."
            )
        if options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1.")
        ecosystem_id = self._ecosystem_id(options["ecosystem"])
        scope = f"ecosystem {ecosystem_id}" if ecosystem_id else "all ecosystems"
        action = "rebuild" if options["rebuild"] else "sync"
        bar = ProgressBar(self.stderr, action, "relationships")
        try:
            if options["rebuild"]:
                report = graph_rebuild(
                    ecosystem_id=ecosystem_id,
                    batch_size=options["batch_size"],
                    progress=bar.update,
                )
            else:
                report = graph_sync_pending(
                    ecosystem_id=ecosystem_id,
                    batch_size=options["batch_size"],
                    progress=bar.update,
                )
        except GRAPH_UNAVAILABLE_ERRORS as error:
            bar.close()
            raise CommandError(
                f"Neo4j is not answering ({type(error).__name__}: {error}). Nothing is lost: "
                "relationships not sent stay pending; run the command again when it is up."
            ) from error
        bar.close()
        self.stdout.write(self._summary(action, scope, report))

    def _ecosystem_id(self, raw: str | None) -> uuid.UUID | None:
        if raw is None:
            return None
        try:
            ecosystem_id = uuid.UUID(raw)
        except ValueError:
            raise CommandError(
                f"--ecosystem must be an ecosystem id (UUID), got {raw!r}."
            ) from None
        if not Ecosystem.objects.filter(pk=ecosystem_id).exists():
            raise CommandError(f"No ecosystem {ecosystem_id}.")
        return ecosystem_id

    @staticmethod
    def _summary(action: str, scope: str, report: SyncReport) -> str:
        if not report.sent:
            return f"{action} ({scope}): nothing pending; the graph is up to date."
        return (
            f"{action} ({scope}): sent {report.sent:,} relationships in {report.batches:,} "
            f"batches, {report.written:,} newer than Neo4j's, in {report.seconds:.2f} s "
            f"({report.rate:,.0f} relationships/s)."
        )
