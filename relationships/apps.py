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
