"""manage.py import_ecosystem FILE --owner USERNAME

Imports a world archive (docs/archives.md) into USERNAME's account: a new ecosystem with new
ids everywhere, in one transaction (a bad archive leaves nothing behind). The same limits as
the API (``ARCHIVE_MAX_BYTES``, ``ARCHIVE_MAX_DECOMPRESSED_BYTES``). A progress bar on
stderr; the new ecosystem's id on stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.management.progress import ProgressBar
from core.errors import ApplicationError
from worlds.archive import archive_max_bytes, archive_read, ecosystem_import


class Command(BaseCommand):
    help = "Import a world archive (gzip JSON) into a user's account as a new ecosystem."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", metavar="FILE", help="The archive (.world.json.gz).")
        parser.add_argument("--owner", required=True, metavar="USERNAME", help="Who owns it.")

    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        try:
            owner = user_model.objects.get(**{user_model.USERNAME_FIELD: options["owner"]})
        except user_model.DoesNotExist:
            raise CommandError(f"No user {options['owner']!r}.") from None
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        limit = archive_max_bytes()
        if path.stat().st_size > limit:
            raise CommandError(
                f"{path} is {path.stat().st_size:,} bytes; the limit is {limit:,} "
                "(ARCHIVE_MAX_BYTES)."
            )
        bar = ProgressBar(self.stderr, "import", "rows")
        try:
            ecosystem = ecosystem_import(
                owner=owner, document=archive_read(path.read_bytes()), progress=bar.update
            )
        except ApplicationError as error:
            bar.close()
            raise CommandError(f"{path}: {error.message} Nothing was imported.") from None
        bar.close()
        self.stdout.write(
            f"Imported {ecosystem.name!r} for {options['owner']}: ecosystem {ecosystem.pk} "
            f"({ecosystem.characters.count()} characters)."
        )
