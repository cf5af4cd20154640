"""manage.py reembed [--batch-size N]

Moves every lore chunk whose vector was made by another model to the configured
``EMBEDDING_MODEL`` (docs/lore.md "Embeddings"), through ``chunks_reembed``: new vector,
model and dimension, version bumped. A progress bar on stderr. Afterwards the Neo4j sync
(``lore.graph_sync``, and the beat's reconcile) catches the vector index up; when the new
model's dimension differs from the index's, the index is rebuilt first.
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from characters.management.progress import ProgressBar
from core.embeddings import embedder
from lore.graph import lore_index_dimension, lore_index_drop
from lore.services import chunks_reembed
from relationships.graph import GRAPH_UNAVAILABLE_ERRORS, graph_is_configured


class Command(BaseCommand):
    help = "Re-embed every lore chunk with the configured EMBEDDING_MODEL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Chunks per transaction (500)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model = embedder()
        if graph_is_configured():
            try:
                dimension = lore_index_dimension()
                if dimension is not None and dimension != model.dimension:
                    # A vector index has one dimension: every node is sent again.
                    lore_index_drop()
                    self.stdout.write(
                        f"Dropped the Neo4j vector index ({dimension} dimensions); the sync "
                        f"rebuilds it at {model.dimension}."
                    )
            except GRAPH_UNAVAILABLE_ERRORS as error:
                self.stdout.write(
                    f"Neo4j is not answering ({type(error).__name__}); the index catches up later."
                )
        bar = ProgressBar(self.stderr, "reembed", "chunks")
        moved = chunks_reembed(batch_size=max(1, options["batch_size"]), progress=bar.update)
        bar.close()
        self.stdout.write(
            f"{moved} chunk(s) moved to {model.name} ({model.dimension} dimensions)."
            + (
                " The Neo4j index catches up through the sync."
                if moved and graph_is_configured()
                else ""
            )
        )
