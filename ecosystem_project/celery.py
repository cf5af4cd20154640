"""Celery application: the scenario clock and the graph sync run here."""

import os
from typing import Any

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecosystem_project.settings.embedded")

app = Celery("ecosystem_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.worker_init.connect
def persistent_database_connections(**kwargs: Any) -> None:
    """Workers keep one persistent database connection per process instead of a pool.

    Celery's Django fixup closes a prefork child's psycopg pool after every task, so with
    the pool each clock window and graph sync reconnected to PostgreSQL (about 30 new
    connections a second under the scenario benchmark). A persistent connection lives
    across tasks; health checks replace it when the server dropped it.
    """
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database.get("OPTIONS", {}).pop("pool", None) is not None:
        database["CONN_MAX_AGE"] = settings.DATABASE_CONN_MAX_AGE
        database["CONN_HEALTH_CHECKS"] = True


@signals.worker_init.connect
def dialogue_backend_ready(**kwargs: Any) -> None:
    """Build the dialogue backend before the worker takes tasks (its phrase files, grammar
    and sentiment lexicon), which the first scenario turn of every worker would otherwise
    pay. Then what it loaded is kept out of the collector's sight (core/startup.py), before
    the pool forks."""
    from core.startup import loaded_objects_freeze
    from interactions.services import dialogue_backend

    dialogue_backend()
    loaded_objects_freeze()
