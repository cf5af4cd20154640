"""Search on Neo4j's native vector index, kept in step by the real Celery worker."""

from __future__ import annotations

import pytest
from django.test import override_settings

from lore.models import Chunk
from lore.services import document_create, document_delete
from relationships.graph import graph_cypher
from tests.relationships.conftest import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def lore_nodes(ecosystem_id) -> int:
    return graph_cypher(
        "MATCH (c:LoreChunk {ecosystem_id: $id}) RETURN count(c)", {"id": str(ecosystem_id)}
    )[0][0]


def test_the_worker_indexes_chunks_search_uses_neo4j_and_delete_removes_them(
    sync_worker, lore_graph, api, ecosystem
):
    lamp = document_create(
        ecosystem=ecosystem, title="Lamp", content="The lighthouse lamp burns whale oil."
    )
    document_create(ecosystem=ecosystem, title="Fish", content="Smoked herring at the market.")
    assert wait_until(lambda: lore_nodes(ecosystem.pk) == 2, timeout=30)
    assert wait_until(lambda: not Chunk.objects.filter(graph_version__lt=1).exists(), timeout=10)
    url = f"/api/v1/ecosystem/{ecosystem.pk}/search"
    results = api.get(url, {"q": "what does the lighthouse burn", "k": 1}).json()["results"]
    assert [hit["document_title"] for hit in results] == ["Lamp"]
    assert 0.3 < results[0]["score"] <= 1.0
    document_delete(document=lamp)
    assert wait_until(lambda: lore_nodes(ecosystem.pk) == 1, timeout=30)
    titles = [hit["document_title"] for hit in api.get(url, {"q": "lighthouse"}).json()["results"]]
    assert titles == ["Fish"]


@override_settings(NEO4J_CONNECTION_TIMEOUT=0.5)
def test_search_answers_503_with_a_reason_when_neo4j_is_away(api, ecosystem, monkeypatch):
    from neo4j.exceptions import ServiceUnavailable

    import lore.graph

    def away(*args, **kwargs):
        raise ServiceUnavailable("connection refused")

    monkeypatch.setattr(lore.graph, "graph_cypher", away)
    monkeypatch.setattr(lore.graph, "_read", away)
    monkeypatch.setattr(lore.graph, "_index_ready", set())
    document_create(ecosystem=ecosystem, title="Lamp", content="The lighthouse lamp.")
    response = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/search", {"q": "lamp"})
    assert response.status_code == 503
    assert "Neo4j" in response.json()["detail"]
