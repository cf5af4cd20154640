"""manage.py import_lore PATH... --ecosystem ID [--character ID ...]

Imports lore documents (plain text, Markdown, PDF; a folder brings in its ``.txt``, ``.md``,
``.markdown`` and ``.pdf`` files) into one ecosystem through the lore services, each file in
a transaction of its own: a bad file is reported with its reason and the others still come
in. A progress bar on stderr; a line per file and a summary on stdout; exit status 1 when
any file was refused.
"""

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.management.progress import ProgressBar
from characters.models import Ecosystem
from core.errors import ApplicationError
from lore.services import document_create_from_upload

LORE_SUFFIXES = (".txt", ".text", ".md", ".markdown", ".pdf")


def lore_paths(paths: list[str]) -> list[Path]:
    """The files named, with a folder standing for its lore files (sorted, recursively)."""
    found: list[Path] = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            found.extend(
                sorted(
                    child
                    for child in path.rglob("*")
                    if child.is_file() and child.suffix.lower() in LORE_SUFFIXES
                )
            )
        else:
            found.append(path)
    return found


class Command(BaseCommand):
    help = "Import lore documents (text, Markdown or PDF files) into an ecosystem."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Files or folders.")
        parser.add_argument("--ecosystem", required=True, metavar="ID", help="Ecosystem UUID.")
        parser.add_argument(
            "--character",
            action="append",
            default=[],
            metavar="ID",
            help="Tie the documents to this character (repeatable); default: everyone.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ecosystem = Ecosystem.objects.get(pk=uuid.UUID(options["ecosystem"]))
        except (ValueError, Ecosystem.DoesNotExist):
            raise CommandError(f"No ecosystem {options['ecosystem']!r}.") from None
        character_ids = list(options["character"])
        unknown = [
            value
            for value in character_ids
            if not _is_uuid(value) or not ecosystem.characters.filter(pk=value).exists()
        ]
        if unknown:
            raise CommandError(
                f"No character {', '.join(map(repr, unknown))} in {ecosystem.name!r}."
            )
        paths = lore_paths(options["paths"])
        if not paths:
            raise CommandError("No lore files (.txt, .md, .markdown, .pdf) found.")
        limit = int(settings.LORE_MAX_DOCUMENT_BYTES)
        bar = ProgressBar(self.stderr, "import", "files")
        imported, refused, chunks = 0, 0, 0
        for done, path in enumerate(paths, start=1):
            try:
                if not path.is_file():
                    raise ApplicationError("no such file", code="not_found")
                if path.stat().st_size > limit:
                    raise ApplicationError(
                        f"over the limit of {limit} bytes (LORE_MAX_DOCUMENT_BYTES)",
                        code="too_large",
                    )
                document = document_create_from_upload(
                    ecosystem=ecosystem,
                    filename=path.name,
                    data=path.read_bytes(),
                    character_ids=character_ids,
                )
                count = document.chunks.count()
                chunks += count
                imported += 1
                self.stdout.write(
                    f"ok   {path}: {document.title!r} ({document.kind}, {count} chunks, "
                    f"id {document.pk})"
                )
            except ApplicationError as error:
                refused += 1
                self.stdout.write(f"FAIL {path}: {error.message} [{error.code}]")
            bar.update(done, len(paths))
        bar.close()
        self.stdout.write(
            f"{imported} imported ({chunks} chunks), {refused} refused, into {ecosystem.name!r}."
        )
        if refused:
            raise CommandError(f"{refused} file(s) refused.", returncode=1)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
