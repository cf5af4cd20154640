"""Lore fixtures: the real Neo4j and Celery worker of the graph tests, and cleanup of this
test's LoreChunk nodes and vector indexes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from characters.models import Ecosystem
from lore.graph import lore_index_drop, lore_index_name
from relationships.graph import graph_cypher
from tests.relationships.conftest import (  # noqa: F401 - fixtures reused
    graph_constraints,
    graph_task_queue,
    sync_worker,
)


@pytest.fixture
def lore_graph(graph_constraints: None, db: Any) -> Iterator[None]:  # noqa: F811
    yield
    ids = [str(pk) for pk in Ecosystem.objects.values_list("pk", flat=True)]
    if ids:
        graph_cypher("MATCH (c:LoreChunk) WHERE c.ecosystem_id IN $ids DELETE c", {"ids": ids})
        lore_index_drop([lore_index_name(pk) for pk in ids])
