"""manage.py install_graph_constraints: the unique constraint on Character.uid and the index
on Character.ecosystem_id in Neo4j. Idempotent (IF NOT EXISTS); a message and exit 0 in the
embedded mode, where there is no Neo4j."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from relationships.graph import (
    GRAPH_UNAVAILABLE_ERRORS,
    graph_install_constraints,
    graph_is_configured,
)


class Command(BaseCommand):
    help = "Install the Neo4j constraints and indexes of the relationship graph (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not graph_is_configured():
            self.stdout.write(
                "NEO4J_BOLT_URL is not set: no Neo4j to install constraints in "
                "(embedded mode; the graph sync stays queued). Nothing to do."
            )
            return
        try:
            statements = graph_install_constraints()
        except GRAPH_UNAVAILABLE_ERRORS as error:
            raise CommandError(
                f"Neo4j is not answering ({type(error).__name__}: {error}); start it "
                "(make services) and run this again."
            ) from error
        for statement in statements:
            self.stdout.write(f"ok: {statement}")
        self.stdout.write(self.style.SUCCESS("Graph constraints and indexes are in place."))
