"""manage.py export_ecosystem ID [-o FILE] [--events] [--no-vectors]

Writes one ecosystem as a world archive (docs/archives.md): gzip-compressed JSON with its
characters, cards and avatars, relationships, lore with chunks, memories, scenarios with
their messages and transcripts, and with ``--events`` the event log. A progress bar on
stderr; the file name and counts on stdout. ``-o -`` writes the archive to stdout.
"""

from __future__ import annotations

import sys
import uuid
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.management.progress import ProgressBar
from characters.models import Ecosystem
from worlds.archive import archive_dump, archive_filename, ecosystem_export


class Command(BaseCommand):
    help = "Export an ecosystem as a world archive (gzip JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ecosystem", metavar="ID", help="Ecosystem UUID.")
        parser.add_argument(
            "-o",
            "--output",
            metavar="FILE",
            help="Where to write (default: <name>.world.json.gz here; '-' for stdout).",
        )
        parser.add_argument("--events", action="store_true", help="Include the event log.")
        parser.add_argument(
            "--no-vectors",
            action="store_true",
            help="Leave lore and memory vectors out (smaller; embedded again on import).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ecosystem = Ecosystem.objects.get(pk=uuid.UUID(options["ecosystem"]))
        except (ValueError, Ecosystem.DoesNotExist):
            raise CommandError(f"No ecosystem {options['ecosystem']!r}.") from None
        bar = ProgressBar(self.stderr, "export", "rows")
        document = ecosystem_export(
            ecosystem=ecosystem,
            events=options["events"],
            vectors=not options["no_vectors"],
            progress=bar.update,
        )
        bar.close()
        data = archive_dump(document)
        output = options["output"] or archive_filename(ecosystem)
        if output == "-":
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        path = Path(output)
        try:
            path.write_bytes(data)
        except OSError as error:
            raise CommandError(f"Cannot write {path}: {error.strerror or error}.") from None
        counts = ", ".join(
            f"{len(document[key] or [])} {key}"
            for key in ("characters", "relationships", "lore", "memories", "scenarios")
        )
        events = f", {len(document['events'])} events" if document["events"] is not None else ""
        self.stdout.write(
            f"Exported {ecosystem.name!r} to {path} ({len(data):,} bytes): "
            f"{counts}, {len(document['interactions'])} interactions{events}."
        )
