"""manage.py import_lore and manage.py reembed against the real database (and, for reembed,
the real Neo4j index kept in step by the real worker)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db.models import F
from django.test import override_settings

from core.embeddings import embedder
from lore.models import Chunk, Document
from lore.services import document_create
from tests.factories import CharacterFactory
from tests.lore.test_documents import LIGHTHOUSE, tiny_pdf
from tests.relationships.conftest import wait_until


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.mark.django_db
@override_settings(LORE_SEARCH_USE_NEO4J=False)  # exact search: no worker in this test
def test_import_lore_brings_in_text_markdown_and_pdf_searchable(tmp_path: Path, api, ecosystem):
    (tmp_path / "gull-point.txt").write_text(LIGHTHOUSE)
    (tmp_path / "festival.md").write_text("# The festival\n\nLantern boats sail at dusk.")
    (tmp_path / "bakery.pdf").write_bytes(tiny_pdf("Bram bakes rye bread before dawn."))

    out, err = run("import_lore", str(tmp_path), "--ecosystem", str(ecosystem.pk))

    assert "3 imported" in out and "0 refused" in out
    assert "import [" in err and "3/3" in err
    documents = {d.title: d for d in Document.objects.filter(ecosystem=ecosystem)}
    assert {t: d.kind for t, d in documents.items()} == {
        "gull-point": "text",
        "festival": "markdown",
        "bakery": "pdf",
    }
    assert all(d.chunks.exists() for d in documents.values())
    results = api.get(
        f"/api/v1/ecosystem/{ecosystem.pk}/search", {"q": "who bakes bread", "k": 1}
    ).json()["results"]
    assert [hit["document_title"] for hit in results] == ["bakery"]


@pytest.mark.django_db
def test_import_lore_ties_documents_to_a_character(tmp_path: Path, ecosystem):
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    path = tmp_path / "secret.md"
    path.write_text("Mira hides her letters under the gallery floor.")

    run("import_lore", str(path), "--ecosystem", str(ecosystem.pk), "--character", str(mira.pk))

    document = Document.objects.get(ecosystem=ecosystem)
    assert [c.name for c in document.characters.all()] == ["Mira"]


@pytest.mark.django_db
def test_import_lore_reports_each_bad_file_keeps_the_good_ones_and_exits_non_zero(
    tmp_path: Path, ecosystem
):
    good = tmp_path / "good.txt"
    good.write_text("The harbor bell rings at noon.")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    binary = tmp_path / "binary.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    missing = tmp_path / "missing.md"
    out = StringIO()

    with pytest.raises(CommandError) as raised:
        call_command(
            "import_lore",
            str(empty),
            str(good),
            str(binary),
            str(missing),
            "--ecosystem",
            str(ecosystem.pk),
            stdout=out,
            stderr=StringIO(),
        )

    assert raised.value.returncode == 1 and "3 file(s) refused" in str(raised.value)
    lines = out.getvalue().splitlines()
    assert any(line.startswith(f"FAIL {empty}:") and "empty" in line for line in lines)
    assert any(line.startswith(f"FAIL {binary}:") for line in lines)
    assert any(line.startswith(f"FAIL {missing}: no such file") for line in lines)
    assert any(line.startswith(f"ok   {good}:") for line in lines)
    assert list(Document.objects.filter(ecosystem=ecosystem).values_list("title", flat=True)) == [
        "good"
    ]


@pytest.mark.django_db
@override_settings(LORE_MAX_DOCUMENT_BYTES=1000)
def test_import_lore_refuses_a_file_over_the_limit(tmp_path: Path, ecosystem):
    big = tmp_path / "big.txt"
    big.write_text("The tide comes in. " * 100)
    out = StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_lore", str(big), "--ecosystem", str(ecosystem.pk), stdout=out, stderr=StringIO()
        )
    assert f"FAIL {big}: over the limit of 1000 bytes" in out.getvalue()
    assert not Document.objects.exists()


@pytest.mark.django_db
def test_import_lore_refuses_an_unknown_ecosystem_or_character(tmp_path: Path, ecosystem):
    path = tmp_path / "a.txt"
    path.write_text("Gulls.")
    with pytest.raises(CommandError, match="No ecosystem"):
        run("import_lore", str(path), "--ecosystem", "not-a-uuid")
    with pytest.raises(CommandError, match="No character"):
        run("import_lore", str(path), "--ecosystem", str(ecosystem.pk), "--character", "x")
    assert not Document.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_reembed_moves_old_vectors_to_the_configured_model_and_neo4j_catches_up(
    sync_worker, lore_graph, api, ecosystem
):
    model = embedder()
    lamp = document_create(ecosystem=ecosystem, title="Lamp", content=LIGHTHOUSE)
    document_create(ecosystem=ecosystem, title="Bread", content="Bram bakes rye bread at dawn.")
    assert wait_until(
        lambda: not Chunk.objects.filter(version__gt=F("graph_version")).exists(), timeout=30
    )
    # Vectors left behind by another model: meaningless for this one.
    noise = np.random.default_rng(3).normal(size=model.dimension).astype("<f4")
    noise /= np.linalg.norm(noise)
    Chunk.objects.filter(ecosystem=ecosystem).update(
        embedding=noise.tobytes(), embedding_model="old-model", version=F("version") + 1
    )
    total = Chunk.objects.filter(ecosystem=ecosystem).count()

    out, err = run("reembed")

    assert f"{total} chunk(s) moved to {model.name}" in out
    assert "reembed [" in err and f"{total}/{total}" in err
    for chunk in Chunk.objects.filter(ecosystem=ecosystem):
        assert chunk.embedding_model == model.name and chunk.dimension == model.dimension
        assert np.allclose(chunk.vector(), model.embed([chunk.text])[0], atol=1e-6)
    assert wait_until(
        lambda: not Chunk.objects.filter(version__gt=F("graph_version")).exists(), timeout=30
    )
    results = api.get(
        f"/api/v1/ecosystem/{ecosystem.pk}/search", {"q": "who keeps the lighthouse lamp", "k": 1}
    ).json()["results"]
    assert [hit["document_id"] for hit in results] == [lamp.pk]
    out, _ = run("reembed")
    assert "0 chunk(s) moved" in out
