"""manage.py reembed [--batch-size N]

Moves every lore chunk whose vector was made by another model to the configured
``EMBEDDING_MODEL`` (docs/lore.md "Embeddings"), through ``chunks_reembed``: new vector,
model and dimension, version bumped. A progress bar on stderr. Afterwards the Neo4j sync
(``lore.graph_sync``, and the beat's reconcile) catches Neo4j up; an ecosystem's vector
index built at another dimension is rebuilt as its nodes are sent again
(``lore_ecosystem_index_ensure``).
"""

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from characters.management.progress import ProgressBar
from core.embeddings import embedder
from lore.services import chunks_reembed
from relationships.graph import graph_is_configured


class Command(BaseCommand):
    help = "Re-embed every lore chunk with the configured EMBEDDING_MODEL."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Chunks per transaction (500)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        model = embedder()
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
