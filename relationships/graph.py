"""Entry point of the Neo4j graph sync for the rest of the code base.

PostgreSQL is the source of truth. A relationship whose ``version`` is newer than its
``graph_version`` is pending; in the embedded mode (no ``NEO4J_BOLT_URL``) it stays pending
(queued, not sent) and `manage.py sync_graph` can send it later.
"""

from collections.abc import Sequence

from django.conf import settings


def graph_sync_enqueue(*, relationship_ids: Sequence[int]) -> None:
    """Called on commit by services that changed relationships."""
    if not settings.GRAPH_SYNC_ENABLED or not relationship_ids:
        return
    from .tasks import graph_sync_relationships

    graph_sync_relationships.delay(list(relationship_ids))
