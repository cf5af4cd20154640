"""Harbor Town ships lore its characters draw on: `manage.py seed_demo` creates the demo's
lore documents once, through the lore services, and brings back one that was deleted."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from characters.models import Ecosystem
from lore.models import Chunk, Document
from lore.selectors import lore_entries_triggered, lore_retrieve
from lore.services import document_delete
from scenarios.demo import DEMO_ECOSYSTEM_NAME, DEMO_LORE

pytestmark = pytest.mark.django_db(transaction=True)

TITLES = [title for title, _, _ in DEMO_LORE]


def seed_demo() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def demo() -> Ecosystem:
    return Ecosystem.objects.get(owner__username="demo", name=DEMO_ECOSYSTEM_NAME)


def test_seed_demo_creates_the_lore_once_and_restores_a_deleted_document():
    first = seed_demo()
    assert f"Added {len(DEMO_LORE)} lore documents: {', '.join(TITLES)}." in first
    ecosystem = demo()
    documents = Document.objects.filter(ecosystem=ecosystem)
    assert sorted(documents.values_list("title", flat=True)) == sorted(TITLES)
    assert 3 <= documents.count() <= 4
    assert all(document.kind == "markdown" for document in documents)
    assert Chunk.objects.filter(ecosystem=ecosystem).count() >= len(TITLES)
    chunk_ids = set(Chunk.objects.filter(ecosystem=ecosystem).values_list("pk", flat=True))

    second = seed_demo()
    assert "lore" not in second
    assert Document.objects.filter(ecosystem=ecosystem).count() == len(TITLES)
    assert set(Chunk.objects.filter(ecosystem=ecosystem).values_list("pk", flat=True)) == (
        chunk_ids
    )

    document_delete(document=documents.get(title="The fishing co-op"))
    assert "Added 1 lore document: The fishing co-op." in seed_demo()
    assert Document.objects.filter(ecosystem=ecosystem).count() == len(TITLES)


def test_the_demo_characters_find_the_lighthouse_by_key_and_the_festival_by_meaning():
    seed_demo()
    ecosystem = demo()
    [hit] = lore_entries_triggered(ecosystem.pk, "Who climbs up to the lighthouse on Sundays?")
    assert hit.document_title == "The Gull Point lighthouse" and hit.triggered
    text = " ".join(hit.text.split())
    assert "Tobias, the harbor master, holds the key and climbs the 112 steps" in text
    assert "Tobias" in " ".join(hit.text for hit in lore_retrieve(ecosystem.pk, "Gull Point", 1))
    [found] = lore_retrieve(ecosystem.pk, "paper boats with candles launched from the quay", 1)
    assert found.document_title == "The storm festival" and not found.triggered
