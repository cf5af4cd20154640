"""manage.py import_cards PATH... --ecosystem ID [--dry-run]

Imports Character Cards (JSON, PNG/APNG, CHARX; V1/V2/V3) into one ecosystem, each card with
its character_book (as the character's keyed lore entries) in a transaction of its own: a bad
card is reported with its reason and the others still come in.
A progress bar on stderr; a line per card and a summary on stdout; exit status 1 when any
card was refused.
"""

import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from characters.cards.errors import CardError, CardTooLarge
from characters.management.progress import ProgressBar
from characters.models import Ecosystem
from core.errors import ApplicationError
from worlds.card_services import card_import, card_preview


class Command(BaseCommand):
    help = "Import Character Cards (JSON, PNG or CHARX files) into an ecosystem."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="Card files.")
        parser.add_argument("--ecosystem", required=True, metavar="ID", help="Ecosystem UUID.")
        parser.add_argument(
            "--dry-run", action="store_true", help="Read and score the cards; save nothing."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            ecosystem = Ecosystem.objects.get(pk=uuid.UUID(options["ecosystem"]))
        except (ValueError, Ecosystem.DoesNotExist):
            raise CommandError(f"No ecosystem {options['ecosystem']!r}.") from None
        paths = [Path(path) for path in options["paths"]]
        limit = int(settings.CARD_IMPORT_MAX_BYTES)
        bar = ProgressBar(self.stderr, "import", "cards")
        imported, refused = 0, 0
        for done, path in enumerate(paths, start=1):
            try:
                if not path.is_file():
                    raise CardError("no such file")
                if path.stat().st_size > limit:
                    raise CardTooLarge(f"over the limit of {limit} bytes")
                data = path.read_bytes()
                if options["dry_run"]:
                    card = card_preview(data=data, filename=path.name)
                    scores = " ".join(f"{v:.2f}" for v in card.big_five.values())
                    self.stdout.write(f"ok   {path}: {card.data['name']} (OCEAN {scores})")
                else:
                    character = card_import(ecosystem=ecosystem, data=data, filename=path.name)
                    entries = character.documents.count()
                    self.stdout.write(
                        f"ok   {path}: {character.name} ({character.pk}), {entries} lore entries"
                    )
                imported += 1
            except ApplicationError as error:
                refused += 1
                self.stdout.write(f"FAIL {path}: {error.message} [{error.code}]")
            bar.update(done, len(paths))
        bar.close()
        verb = "read" if options["dry_run"] else "imported"
        self.stdout.write(f"{imported} {verb}, {refused} refused, into {ecosystem.name!r}.")
        if refused:
            raise CommandError(f"{refused} card(s) refused.", returncode=1)
