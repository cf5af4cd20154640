"""manage.py import_lorebook ECOSYSTEM_ID PATH... [--character ID]

Imports SillyTavern World Info files (or bare character_book JSON) as the ecosystem's keyed
lore entries, tied to one of its characters with ``--character``. Each file is one
transaction: a bad file is reported with its reason and stores nothing, the others still
come in. A progress bar per file on stderr (entries stored); a line per file and a summary on
stdout; exit status 1 when any file was refused.
"""

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.management.progress import ProgressBar
from characters.models import Character, Ecosystem
from core.errors import ApplicationError
from worlds.card_services import lorebook_import
from worlds.lorebooks import LorebookError, LorebookTooLarge


class Command(BaseCommand):
    help = "Import SillyTavern World Info (lorebook) JSON files as an ecosystem's keyed lore."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("ecosystem", metavar="ECOSYSTEM_ID", help="Ecosystem UUID.")
        parser.add_argument("paths", nargs="+", metavar="PATH", help="World Info JSON files.")
        parser.add_argument(
            "--character", metavar="ID", help="Tie the entries to this character of the ecosystem."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ecosystem = Ecosystem.objects.get(pk=uuid.UUID(options["ecosystem"]))
        except (ValueError, Ecosystem.DoesNotExist):
            raise CommandError(f"No ecosystem {options['ecosystem']!r}.") from None
        character = None
        if options["character"]:
            try:
                character = Character.objects.get(
                    pk=uuid.UUID(options["character"]), ecosystem=ecosystem
                )
            except (ValueError, Character.DoesNotExist):
                raise CommandError(
                    f"No character {options['character']!r} in {ecosystem.name!r}."
                ) from None
        limit = int(settings.LORE_MAX_DOCUMENT_BYTES)
        imported, refused, entries = 0, 0, 0
        for path in (Path(name) for name in options["paths"]):
            bar = ProgressBar(self.stderr, f"import {path.name}", "entries")
            try:
                if not path.is_file():
                    raise LorebookError("no such file", code="no_such_file")
                size = path.stat().st_size
                if size > limit:
                    raise LorebookTooLarge(f"{size} bytes; the limit is {limit}")
                data = path.read_bytes()
                result = lorebook_import(
                    ecosystem=ecosystem,
                    data=data,
                    max_bytes=limit,
                    filename=path.name,
                    character=character,
                    progress=bar.update,
                )
            except ApplicationError as error:
                refused += 1
                bar.close()
                self.stdout.write(f"FAIL {path}: {error.message} [{error.code}]")
                continue
            bar.update(len(result.document_ids), len(result.document_ids))
            bar.close()
            imported += 1
            entries += len(result.document_ids)
            skipped = f", {len(result.skipped)} skipped (blank)" if result.skipped else ""
            self.stdout.write(f"ok   {path}: {len(result.document_ids)} entries{skipped}")
        whose = f"{character.name}'s" if character is not None else "the ecosystem's"
        self.stdout.write(
            f"{imported} file(s) imported ({entries} entries as {whose} lore), "
            f"{refused} refused, into {ecosystem.name!r}."
        )
        if refused:
            raise CommandError(f"{refused} file(s) refused.", returncode=1)
