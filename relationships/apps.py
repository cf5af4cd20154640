from django.apps import AppConfig
from django.conf import settings


class RelationshipsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "relationships"

    def ready(self) -> None:
        from neomodel import config

        # Fail fast when Neo4j is away: the sync retries later, nothing upstream waits.
        config.CONNECTION_TIMEOUT = settings.NEO4J_CONNECTION_TIMEOUT
        config.CONNECTION_ACQUISITION_TIMEOUT = settings.NEO4J_CONNECTION_TIMEOUT
        config.MAX_TRANSACTION_RETRY_TIME = settings.NEO4J_CONNECTION_TIMEOUT

        self.connect_graph_delete_hooks()

    @staticmethod
    def connect_graph_delete_hooks() -> None:
        """The integration hook that keeps the graph free of deleted characters: the
        ``characters`` app sits below this one and cannot call the graph, so deleting a
        Character or an Ecosystem schedules (on commit, when GRAPH_SYNC_ENABLED) the
        ``relationships.graph_remove`` task from here. The periodic reconcile also sweeps
        orphans, should a removal be lost."""
        from django.db.models.signals import post_delete

        from characters.models import Character, Ecosystem

        from .graph import graph_on_character_deleted, graph_on_ecosystem_deleted

        post_delete.connect(
            graph_on_character_deleted,
            sender=Character,
            dispatch_uid="relationships.graph_on_character_deleted",
        )
        post_delete.connect(
            graph_on_ecosystem_deleted,
            sender=Ecosystem,
            dispatch_uid="relationships.graph_on_ecosystem_deleted",
        )
