"""manage.py move_to_postgres --from-sqlite PATH [--no-graph] [--batch-size N]

Moves a `make run` world (the embedded mode's SQLite file) into the PostgreSQL database of
DATABASE_URL: every row of every table the project's models own, with its primary key,
the event log with its ``seq`` values and each ecosystem's ``last_seq`` (an observer resumes
with its old ``since``), timestamps as they were (rows are copied, not re-saved). Then it
rebuilds, for each ecosystem that came over, the Neo4j relationship graph (``sync_graph
--rebuild``) and the lore vector index: chunks embedded by another model than the configured
``EMBEDDING_MODEL`` are re-embedded first (``reembed``), then every chunk is sent again.

One transaction: on any error nothing is left behind. The target must be migrated (the
command migrates it) and hold no world yet; the source must be migrated to the same
migrations (docs/operations.md, "From make run to the full stack").
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.core.management.color import no_style
from django.db import connections, transaction
from django.db.migrations.recorder import MigrationRecorder
from django.db.models import Model

from characters.management.progress import ProgressBar
from core.embeddings import configured_model_name
from lore.graph import (
    lore_remove_orphans,
    lore_sync_pending,
)
from lore.models import Chunk
from relationships.graph import GRAPH_UNAVAILABLE_ERRORS

SOURCE = "move_source"
# Filled by migrate on the target; replaced by the source's rows, ids and all.
REPLACED_ON_TARGET = ("contenttypes.contenttype", "auth.permission")


def copied_models() -> list[type[Model]]:
    """Every concrete, managed model with a table of its own, many-to-many tables included."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.managed and not model._meta.proxy
    ]


def open_source(path: Path) -> bool:
    """Open the SQLite file as the database alias SOURCE; False if it was already open."""
    if SOURCE in connections.databases:
        return False
    connections.databases[SOURCE] = {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "ATOMIC_REQUESTS": False,
        "AUTOCOMMIT": True,
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
        "OPTIONS": {},
        "TIME_ZONE": None,
        "USER": "",
        "PASSWORD": "",
        "HOST": "",
        "PORT": "",
        # What Django's test framework reads of every alias (the tests open the file too).
        "TEST": {"MIRROR": None, "NAME": None, "CHARSET": None, "COLLATION": None},
    }
    return True


def close_source(*, forget: bool = True) -> None:
    if SOURCE in connections.databases:
        connections[SOURCE].close()
        if forget:
            del connections.databases[SOURCE]


def label(model: type[Model]) -> str:
    return model._meta.label_lower


class Command(BaseCommand):
    help = (
        "Copy a make-run SQLite world into the PostgreSQL of DATABASE_URL, then rebuild the "
        "relationship graph and the lore vector index."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from-sqlite", required=True, metavar="PATH", help="var/db.sqlite3")
        parser.add_argument(
            "--no-graph",
            action="store_true",
            help="Do not rebuild Neo4j (the relationship graph and the lore vector index).",
        )
        parser.add_argument("--batch-size", type=int, default=1000, help="Rows per INSERT batch.")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["from_sqlite"])
        if not path.is_file():
            raise CommandError(f"No SQLite file at {path}.")
        target = connections["default"]
        if target.vendor != "postgresql":
            raise CommandError(
                f"DATABASE_URL is {target.vendor}, not PostgreSQL: load the full stack's "
                "environment first (set -a; . var/services.env; set +a)."
            )
        call_command("migrate", interactive=False, verbosity=0)
        opened = open_source(path)
        try:
            self._check_migrations()
            counts = self._copy(options["batch_size"])
        finally:
            close_source(forget=opened)
        width = max(len(name) for name in counts)
        for name, count in counts.items():
            self.stdout.write(f"  {name:<{width}}  {count:>8,}")
        self.stdout.write(f"moved {sum(counts.values()):,} rows from {path}.")
        if not options["no_graph"]:
            self._rebuild_graph()
            self._rebuild_lore_index()

    def _check_migrations(self) -> None:
        source = MigrationRecorder(connections[SOURCE])
        if not source.has_table():
            raise CommandError("The SQLite file holds no Django database (no django_migrations).")
        applied_source = set(source.applied_migrations())
        applied_target = set(MigrationRecorder(connections["default"]).applied_migrations())
        missing = sorted(applied_target - applied_source)
        extra = sorted(applied_source - applied_target)
        if missing or extra:
            raise CommandError(
                "The SQLite world is not at this code's migrations "
                f"(missing {missing[:5]}, unknown {extra[:5]}). Migrate it first: "
                f"DATABASE_URL=sqlite:///{connections[SOURCE].settings_dict['NAME']} "
                "python manage.py migrate"
            )

    def _copy(self, batch_size: int) -> dict[str, int]:
        models = copied_models()
        target = connections["default"]
        occupied = [
            label(model)
            for model in models
            if label(model) not in REPLACED_ON_TARGET
            and model._base_manager.using("default").exists()
        ]
        if occupied:
            raise CommandError(
                "The PostgreSQL database already holds data "
                f"({', '.join(occupied[:5])}): move into an empty database."
            )
        totals = {label(m): m._base_manager.using(SOURCE).count() for m in models}
        bar = ProgressBar(self.stderr, "move", "rows")
        done, grand_total = 0, sum(totals.values())
        with transaction.atomic(using="default"), target.cursor() as cursor:
            # Foreign keys are checked at commit (Django makes them DEFERRABLE INITIALLY
            # DEFERRED), so tables can be filled in any order.
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")
            for name in REPLACED_ON_TARGET:
                model = apps.get_model(name)
                table = target.ops.quote_name(model._meta.db_table)
                cursor.execute(f"DELETE FROM {table}")  # noqa: S608 - a model's table name
            for model in models:
                fields = model._meta.concrete_fields
                columns = ", ".join(target.ops.quote_name(str(f.column)) for f in fields)
                marks = ", ".join(["%s"] * len(fields))
                # The model's own table and column names, quoted; values are parameters.
                table = target.ops.quote_name(model._meta.db_table)
                sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
                rows = (
                    model._base_manager.using(SOURCE)
                    .order_by("pk")
                    .values_list(*(f.attname for f in fields))
                    .iterator(chunk_size=batch_size)
                )
                batch: list[list[Any]] = []
                for row in rows:
                    batch.append(
                        [
                            f.get_db_prep_save(v, connection=target)
                            for f, v in zip(fields, row, strict=True)
                        ]
                    )
                    if len(batch) >= batch_size:
                        cursor.executemany(sql, batch)
                        done += len(batch)
                        bar.update(done, grand_total)
                        batch = []
                if batch:
                    cursor.executemany(sql, batch)
                    done += len(batch)
                    bar.update(done, grand_total)
            # Ids were copied, so each table's id sequence continues after the highest one.
            for statement in target.ops.sequence_reset_sql(no_style(), models):
                cursor.execute(statement)
            for model in models:
                moved = model._base_manager.using("default").count()
                if moved != totals[label(model)]:
                    raise CommandError(
                        f"{label(model)}: {moved} rows in PostgreSQL, "
                        f"{totals[label(model)]} in SQLite; nothing was moved."
                    )
        bar.close()
        apps.get_model("contenttypes.contenttype").objects.clear_cache()
        return totals

    def _rebuild_graph(self) -> None:
        if not settings.GRAPH_SYNC_ENABLED:
            self.stdout.write(
                "graph: NEO4J_BOLT_URL is unset; run manage.py sync_graph --rebuild later."
            )
            return
        ecosystem_ids = apps.get_model("characters.ecosystem").objects.values_list("pk", flat=True)
        for ecosystem_id in ecosystem_ids:
            call_command(
                "sync_graph",
                "--rebuild",
                "--ecosystem",
                str(uuid.UUID(str(ecosystem_id))),
                stdout=self.stdout,
                stderr=self.stderr,
            )

    def _rebuild_lore_index(self) -> None:
        """Every moved chunk into Neo4j's vector index, after moving the chunks of another
        embedding model to the configured one: a world played with another ``EMBEDDING_MODEL``
        would otherwise hold vectors the queries cannot be compared with."""
        if Chunk.objects.exclude(embedding_model=configured_model_name()).exists():
            call_command("reembed", stdout=self.stdout, stderr=self.stderr)
        if not settings.GRAPH_SYNC_ENABLED:
            self.stdout.write(
                "lore index: NEO4J_BOLT_URL is unset; the lore reconcile sends the chunks "
                "once Neo4j is configured."
            )
            return
        ecosystem_ids = [
            str(uuid.UUID(str(pk)))
            for pk in apps.get_model("characters.ecosystem").objects.values_list("pk", flat=True)
        ]
        total = Chunk.objects.count()
        bar = ProgressBar(self.stderr, "lore index", "chunks")
        sent = 0
        try:
            # Neo4j holds nothing of these rows yet, whatever graph_version they carried.
            Chunk.objects.filter(graph_version__gt=0).update(graph_version=0)
            for ecosystem_id in ecosystem_ids:
                lore_remove_orphans(ecosystem_id=ecosystem_id)
                sent += lore_sync_pending(ecosystem_id=ecosystem_id)
                bar.update(sent, total)
        except GRAPH_UNAVAILABLE_ERRORS as error:
            bar.close()
            self.stdout.write(
                f"lore index: Neo4j is not answering ({type(error).__name__}); the chunks stay "
                "pending and the lore reconcile sends them when it answers."
            )
            return
        bar.close()
        self.stdout.write(
            f"lore index: sent {sent:,} chunks of {len(ecosystem_ids)} ecosystem(s) to Neo4j."
        )
