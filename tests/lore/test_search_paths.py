"""The fast paths of lore search: the embedder's word cache gives the model's own vectors,
the in-process matrix is keyed by model and refreshed on write, exact search masks other
characters' documents, and Neo4j's search of one ecosystem never returns another's chunks
on either of its plans (exact scan, or the vector index with over-fetching)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pytest
from django.test import override_settings
from tokenizers import Tokenizer

import lore.graph
import lore.services
from core.embeddings import WordLlamaEmbedder, cosine_top_k, embedder
from lore.graph import lore_sync_pending, lore_vector_query
from lore.models import Chunk
from lore.selectors import lore_generation_bump, lore_search, lore_snapshot
from lore.services import document_create, document_delete
from tests.factories import CharacterFactory, EcosystemFactory
from tests.relationships.conftest import wait_until

TEXTS = [
    "The lighthouse on Gull Point was built in 1887.",
    "Mira keeps its lamp lit every night, whatever the weather.",
    "",
    "   ",
    "Smoked herring, salted cod and a barrel of ale at the quay market!",
    "Zyzzyva quokka flibbertigibbet antidisestablishmentarianism 1887-2026 ünïcödé.",
    "word " * 300,
]


@functools.cache
def packaged_tokenizer() -> Tokenizer:
    """WordLlama's tokenizer as the wheel ships it (no pre-tokenizer of ours)."""
    import wordllama

    path = Path(wordllama.__file__).parent / "tokenizers" / "l2_supercat_tokenizer_config.json"
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    return tokenizer


def reference_vector(model: WordLlamaEmbedder, text: str) -> np.ndarray:
    """The model's definition: the mean of the text's token vectors, L2-normalised."""
    ids = packaged_tokenizer().encode(" ".join(text.split()), add_special_tokens=False).ids
    if not ids:
        return np.zeros(model.dimension, dtype=np.float32)
    mean = model._table[np.clip(ids, 0, len(model._table) - 1)].mean(axis=0)
    return mean / np.linalg.norm(mean)


def test_the_word_cache_gives_the_mean_of_the_tokens_vectors_in_any_batch():
    model = embedder()
    assert isinstance(model, WordLlamaEmbedder)
    expected = np.stack([reference_vector(model, text) for text in TEXTS])
    together = model.embed(TEXTS)
    one_by_one = np.concatenate([model.embed([text]) for text in reversed(TEXTS)])[::-1]
    np.testing.assert_allclose(together, expected, atol=2e-5)
    np.testing.assert_allclose(one_by_one, expected, atol=2e-5)
    assert not together[2].any() and not together[3].any()  # empty text: zero vector


def test_a_full_word_cache_starts_over_and_still_embeds_exactly():
    model = WordLlamaEmbedder()
    model.word_cache_size = 64
    model.initial_word_rows = 8
    model.batch_size = 3
    texts = [f"alpha{index} beta{index} gamma{index} delta {index}" for index in range(60)]
    texts.append(" ".join(f"many{index}" for index in range(200)))  # more words than fit
    expected = np.stack([reference_vector(model, text) for text in texts])
    np.testing.assert_allclose(model.embed(texts), expected, atol=2e-5)
    assert len(model._word_row) <= 200


@pytest.mark.django_db
@override_settings(LORE_SEARCH_USE_NEO4J=False)
def test_exact_search_masks_other_characters_documents_and_still_fills_k(ecosystem):
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    otto = CharacterFactory(ecosystem=ecosystem, name="Otto")
    for index in range(6):
        document_create(
            ecosystem=ecosystem,
            title=f"Mira's lamp note {index}",
            content=f"The lighthouse lamp burns whale oil, note {index}.",
            character_ids=[mira.pk],
        )
    for title in ("Herring", "Bread", "Bells"):
        document_create(ecosystem=ecosystem, title=title, content=f"{title} at the harbor.")
    for_otto = lore_search(
        ecosystem=ecosystem, query="lighthouse lamp oil", k=3, character_id=otto.pk
    )
    assert sorted(hit.document_title for hit in for_otto) == ["Bells", "Bread", "Herring"]
    for_mira = lore_search(
        ecosystem=ecosystem, query="lighthouse lamp oil", k=3, character_id=mira.pk
    )
    assert all(hit.document_title.startswith("Mira's lamp note") for hit in for_mira)
    snapshot = lore_snapshot(ecosystem.pk)
    query = embedder().embed(["lighthouse lamp oil"])[0]
    best = [snapshot.rows[row][1] for row, _ in cosine_top_k(query, snapshot.matrix, 3)]
    assert [hit.document_id for hit in for_mira] == best
    assert [hit.score for hit in for_mira] == sorted((hit.score for hit in for_mira), reverse=True)


@pytest.mark.django_db
@override_settings(LORE_SEARCH_USE_NEO4J=False)
def test_the_matrix_is_refreshed_on_write_and_holds_only_the_configured_models_vectors(ecosystem):
    lamp = document_create(ecosystem=ecosystem, title="Lamp", content="The lighthouse lamp.")
    snapshot = lore_snapshot(ecosystem.pk)
    assert snapshot.matrix.dtype == np.float32 and snapshot.matrix.flags.c_contiguous
    np.testing.assert_allclose(np.linalg.norm(snapshot.matrix, axis=1), 1.0, rtol=1e-5)
    assert lore_snapshot(ecosystem.pk) is snapshot  # cached while nothing changes

    document_create(ecosystem=ecosystem, title="Fish", content="Smoked herring at the market.")
    lore_generation_bump(ecosystem.pk)  # what the service does on commit
    titles = [hit.document_title for hit in lore_search(ecosystem=ecosystem, query="herring", k=5)]
    assert titles[0] == "Fish"

    Chunk.objects.filter(document=lamp).update(embedding_model="another-model-v2")
    lore_generation_bump(ecosystem.pk)
    titles = [hit.document_title for hit in lore_search(ecosystem=ecosystem, query="lamp", k=5)]
    assert titles == ["Fish"]  # the lamp's vector is another model's: not comparable


def neo4j_nodes(ecosystem_id) -> int:
    return lore.graph.graph_cypher(
        "MATCH (c:LoreChunk {ecosystem_id: $id}) RETURN count(c)", {"id": str(ecosystem_id)}
    )[0][0]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("plan", ["exact", "index"])
def test_neo4j_search_of_one_ecosystem_never_returns_anothers_chunks(
    lore_graph, user, monkeypatch, settings, plan
):
    # The sync runs here, with this test's settings; the Celery worker's copy would sync
    # with its own (no index) and could leave this one nothing pending to index.
    monkeypatch.setattr(lore.services, "lore_sync_enqueue", lambda **_: None)
    ours, theirs = EcosystemFactory(owner=user), EcosystemFactory(owner=user)
    contents = [
        "The lighthouse lamp burns whale oil every night.",
        "Smoked herring is sold at the harbor market.",
        "The festival lanterns line the quay in spring.",
    ]
    for ecosystem in (ours, theirs):
        for index, content in enumerate(contents):
            document_create(ecosystem=ecosystem, title=f"{index}", content=content)
    # The other ecosystem holds the closest chunk of all: the very words of the query.
    document_create(ecosystem=theirs, title="bait", content="what does the lighthouse burn")
    if plan == "index":  # both ecosystems get an index of their own as they are synced
        settings.LORE_VECTOR_EXACT_MAX_CHUNKS = 0
        settings.LORE_MAX_VECTOR_CANDIDATES = 1_000_000
    for ecosystem in (ours, theirs):
        lore_sync_pending(ecosystem_id=ecosystem.pk)
    assert wait_until(lambda: neo4j_nodes(ours.pk) == 3 and neo4j_nodes(theirs.pk) == 4, timeout=20)
    indexes = lore.graph.lore_vector_indexes()
    assert (lore.graph.lore_index_name(ours.pk) in indexes) is (plan == "index")
    lore.graph.graph_cypher("CALL db.awaitIndexes(60)")
    monkeypatch.setattr(lore.graph, "_stats", {})
    # Each plan alone: the other's statement would fail if it were sent.
    if plan == "index":
        monkeypatch.setattr(lore.graph, "EXACT_QUERY_CYPHER", "RETURN 1 / 0")
    else:
        monkeypatch.setattr(lore.graph, "QUERY_CYPHER", "RETURN 1 / 0")
    ours_ids = set(Chunk.objects.filter(ecosystem=ours).values_list("pk", flat=True))
    vector = embedder().embed(["what does the lighthouse burn"])[0]

    def search() -> list[tuple[int, float]]:
        return lore_vector_query(ecosystem_id=ours.pk, vector=vector, k=3)

    assert wait_until(lambda: len(search()) == 3, timeout=20)  # the index sees the new nodes
    found = search()
    assert {uid for uid, _score in found} == ours_ids
    hits = lore_search(ecosystem=ours, query="what does the lighthouse burn", k=3)
    assert hits[0].text == contents[0]
    assert all(0.0 < hit.score <= 1.0 for hit in hits)

    document_delete(document=ours.documents.get(title="0"))
    lore.graph.lore_remove_orphans(ecosystem_id=ours.pk)
    remaining = set(Chunk.objects.filter(ecosystem=ours).values_list("pk", flat=True))
    assert len(remaining) == 2
    assert {uid for uid, _score in search()} == remaining


@pytest.mark.django_db
def test_another_processes_write_is_seen_once_the_stamp_is_checked_again(ecosystem, monkeypatch):
    from django.core.cache import cache

    from lore import selectors

    monkeypatch.setattr(selectors, "LORE_GENERATION_CHECK_SECONDS", 60.0)
    document_create(ecosystem=ecosystem, title="Lamp", content="The lighthouse lamp.")
    lore_generation_bump(ecosystem.pk)
    first = lore_snapshot(ecosystem.pk)
    # Another process stores a document and bumps the shared stamp (this one's copy stays).
    document_create(ecosystem=ecosystem, title="Fish", content="Smoked herring at the market.")
    cache.set(selectors.lore_generation_key(ecosystem.pk), "another process", None)
    assert lore_snapshot(ecosystem.pk) is first  # not asked again within the interval
    monkeypatch.setattr(selectors, "LORE_GENERATION_CHECK_SECONDS", 0.0)
    second = lore_snapshot(ecosystem.pk)
    assert second is not first
    assert sorted(title for title, _keys, _tied in second.documents.values()) == ["Fish", "Lamp"]


@pytest.mark.django_db(transaction=True)
def test_an_ecosystem_gets_its_own_index_past_the_exact_size_and_loses_it_when_emptied(
    lore_graph, ecosystem, settings
):
    settings.LORE_VECTOR_EXACT_MAX_CHUNKS = 2
    name = lore.graph.lore_index_name(ecosystem.pk)
    documents = [
        document_create(ecosystem=ecosystem, title=f"{index}", content=content)
        for index, content in enumerate(["The lamp.", "The herring.", "The lanterns."])
    ]
    lore_sync_pending(ecosystem_id=ecosystem.pk)
    assert neo4j_nodes(ecosystem.pk) == 3
    state, config = lore.graph.lore_vector_indexes()[name]
    assert state in ("ONLINE", "POPULATING")
    assert config["vector.dimensions"] == embedder().dimension
    assert lore.graph.LEGACY_INDEX_NAME not in lore.graph.lore_vector_indexes()

    for document in documents:
        document_delete(document=document)
    lore.graph.lore_remove_orphans(ecosystem_id=ecosystem.pk)
    assert neo4j_nodes(ecosystem.pk) == 0
    assert lore.graph.lore_indexes_reconcile()[1] >= 1
    assert name not in lore.graph.lore_vector_indexes()
