"""Lore documents through the API: create (JSON, text, Markdown, PDF uploads), list, get,
update (re-embeds), delete, bad input, ownership; chunking; keyed entries; embedded search."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from core.embeddings import cosine_top_k, embedder
from lore.chunking import CHUNK_MAX_CHARS, CHUNK_OVERLAP_CHARS, chunk_text
from lore.models import Chunk, Document
from lore.selectors import lore_entries_triggered, lore_retrieve
from lore.services import document_create
from tests.factories import CharacterFactory

pytestmark = pytest.mark.django_db

LIGHTHOUSE = (
    "The lighthouse on Gull Point was built in 1887. Mira keeps its lamp lit every night.\n\n"
    "The harbor festival happens each spring, when the fishing fleet returns. Lanterns line "
    "the quay and Otto sells smoked herring."
)


def tiny_pdf(text: str) -> bytes:
    """A one-page PDF with a text layer, written by hand (no PDF writer needed)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(
        b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    )
    return out.getvalue()


def docs_url(ecosystem) -> str:
    return f"/api/v1/ecosystem/{ecosystem.pk}/documents"


def test_embedder_returns_unit_rows_and_ranks_by_meaning():
    model = embedder()
    vectors = model.embed(["Mira keeps the lighthouse lamp lit", "Otto sells fish", ""])
    assert vectors.shape == (3, model.dimension) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors[:2], axis=1), 1.0, atol=1e-5)
    assert not vectors[2].any()
    query = model.embed(["who tends the lighthouse lamp?"])[0]
    assert cosine_top_k(query, vectors, 1)[0][0] == 0


def test_chunks_end_at_sentences_overlap_and_keep_offsets():
    sentences = [
        f"Sentence number {index} tells of the harbor and its boats." for index in range(80)
    ]
    content = " ".join(sentences[:40]) + "\n\n" + " ".join(sentences[40:])
    spans = chunk_text(content)
    assert len(spans) > 3
    for span in spans:
        assert content[span.start : span.end] == span.text
        assert len(span.text) <= CHUNK_MAX_CHARS
        assert span.text.endswith(".")
    # consecutive chunks overlap by at most the overlap size, and cover the whole text
    assert spans[1].start < spans[0].end
    assert spans[0].end - spans[1].start <= CHUNK_OVERLAP_CHARS
    assert spans[0].start == 0 and spans[-1].end == len(content)


def test_create_by_json_lists_gets_and_stores_vectors(api, ecosystem):
    response = api.post(
        docs_url(ecosystem),
        {"title": "Gull Point", "content": LIGHTHOUSE, "keys": ["lighthouse", "Gull Point"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["title"] == "Gull Point" and body["chunk_count"] >= 1
    chunk = Chunk.objects.get(document_id=body["id"], position=0)
    assert chunk.embedding_model == "wordllama-l2-supercat-256" and chunk.dimension == 256
    assert chunk.vector().shape == (256,)
    listed = api.get(docs_url(ecosystem)).json()["results"]
    assert [row["title"] for row in listed] == ["Gull Point"]
    assert api.get(f"/api/v1/documents/{body['id']}").json()["content"] == LIGHTHOUSE
    assert api.get(f"{docs_url(ecosystem)}/{body['id']}").status_code == 200


@pytest.mark.parametrize(
    ("name", "data", "kind"),
    [
        ("notes.txt", LIGHTHOUSE.encode(), "text"),
        ("notes.md", ("# Gull Point\n\n" + LIGHTHOUSE).encode(), "markdown"),
        ("notes.pdf", tiny_pdf("Mira keeps the lighthouse lamp lit every night."), "pdf"),
    ],
)
def test_upload_text_markdown_and_pdf(api, ecosystem, name, data, kind):
    response = api.post(
        docs_url(ecosystem),
        {"file": SimpleUploadedFile(name, data), "keys": "lighthouse, lamp"},
        format="multipart",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["kind"] == kind and body["keys"] == ["lighthouse", "lamp"]
    assert "lamp lit every night" in body["content"]


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("empty.txt", b"", "empty_document"),
        ("blob.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary_document"),
        ("latin.txt", "caf\xe9".encode("latin-1") + b"\xff\xfe", "binary_document"),
        ("scan.pdf", tiny_pdf(""), "pdf_without_text"),
        ("broken.pdf", b"%PDF-1.4\nnot really", "unreadable_pdf"),
        ("zalgo.txt", ("h" + "\u0301" * 30 + "ello").encode(), "invalid_unicode"),
    ],
)
def test_bad_uploads_answer_400_and_store_nothing(api, ecosystem, name, data, code):
    response = api.post(
        docs_url(ecosystem), {"file": SimpleUploadedFile(name, data)}, format="multipart"
    )
    assert response.status_code == 400, response.content
    assert response.json()["code"] == code
    assert not Document.objects.exists() and not Chunk.objects.exists()


@override_settings(LORE_MAX_DOCUMENT_BYTES=1000)
def test_upload_over_the_limit_answers_413(api, ecosystem):
    response = api.post(
        docs_url(ecosystem),
        {"file": SimpleUploadedFile("big.txt", b"word " * 400)},
        format="multipart",
    )
    assert response.status_code == 413
    assert "1000 bytes" in response.json()["detail"]
    assert not Document.objects.exists()


def test_json_with_nul_or_empty_content_answers_400(api, ecosystem):
    for content in ("", "   ", "nul\x00byte"):
        response = api.post(docs_url(ecosystem), {"title": "x", "content": content}, format="json")
        assert response.status_code == 400, content
    assert not Document.objects.exists()


def test_update_reembeds_and_delete_removes_chunks(api, ecosystem):
    document = document_create(
        ecosystem=ecosystem, title="Old", content="The bakery opens at dawn."
    )
    old_ids = set(document.chunks.values_list("pk", flat=True))
    response = api.patch(
        f"/api/v1/documents/{document.pk}",
        {"content": "The lighthouse lamp burns whale oil."},
        format="json",
    )
    assert response.status_code == 200
    assert response.json()["content"] == "The lighthouse lamp burns whale oil."
    new_chunks = list(Chunk.objects.filter(document=document))
    assert new_chunks and not old_ids & {chunk.pk for chunk in new_chunks}
    query = embedder().embed(["lighthouse lamp oil"])[0]
    assert float(new_chunks[0].vector() @ query) > 0.5
    put = api.put(
        f"{docs_url(ecosystem)}/{document.pk}",
        {"title": "New", "content": "Otto fishes."},
        format="json",
    )
    assert put.status_code == 200 and put.json()["title"] == "New"
    assert api.delete(f"/api/v1/documents/{document.pk}").status_code == 204
    assert not Chunk.objects.filter(document_id=document.pk).exists()
    assert api.get(f"/api/v1/documents/{document.pk}").status_code == 404


def test_another_users_documents_answer_404(api, other_api, ecosystem):
    document = document_create(ecosystem=ecosystem, title="Secret", content="Mira's secret.")
    assert other_api.get(f"/api/v1/documents/{document.pk}").status_code == 404
    assert other_api.delete(f"/api/v1/documents/{document.pk}").status_code == 404
    assert other_api.get(docs_url(ecosystem)).status_code == 404
    assert other_api.get(f"/api/v1/ecosystem/{ecosystem.pk}/search?q=secret").status_code == 404
    assert Document.objects.filter(pk=document.pk).exists()


def test_keyed_entries_trigger_on_whole_words_with_secondary_keys(ecosystem):
    document_create(
        ecosystem=ecosystem, title="Lamp", content="The lamp burns oil.", keys=["lighthouse"]
    )
    document_create(
        ecosystem=ecosystem,
        title="Festival",
        content="Lanterns in spring.",
        keys=["festival"],
        secondary_keys=["lantern", "spring"],
    )
    document_create(
        ecosystem=ecosystem, title="Rule", content="Gulls are sacred.", constant=True, order=0
    )
    titles = lambda text: [hit.document_title for hit in lore_entries_triggered(ecosystem.pk, text)]  # noqa: E731
    assert titles("Tell me about the LIGHTHOUSE!") == ["Rule", "Lamp"]
    assert titles("lighthouses everywhere") == ["Rule"]
    assert titles("the festival is near") == ["Rule"]
    assert titles("the festival in spring") == ["Rule", "Festival"]


def test_a_keyed_entry_tied_to_a_character_triggers_for_it_alone(ecosystem):
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    otto = CharacterFactory(ecosystem=ecosystem, name="Otto")
    document_create(
        ecosystem=ecosystem,
        title="Mira's secret",
        content="Mira hid the key under the bell.",
        keys=["bell"],
        character_ids=[mira.pk],
    )
    titles = lambda character: [  # noqa: E731
        hit.document_title
        for hit in lore_entries_triggered(ecosystem.pk, "Who rang the bell?", character.pk)
    ]
    assert titles(mira) == ["Mira's secret"]
    assert titles(otto) == []


@override_settings(LORE_SEARCH_USE_NEO4J=False)
def test_embedded_search_finds_by_meaning_and_filters_by_character(api, ecosystem):
    mira = CharacterFactory(ecosystem=ecosystem, name="Mira")
    otto = CharacterFactory(ecosystem=ecosystem, name="Otto")
    document_create(
        ecosystem=ecosystem, title="Lamp", content="The lighthouse lamp burns whale oil."
    )
    document_create(
        ecosystem=ecosystem,
        title="Fish",
        content="Smoked herring sells at the market.",
        keys=["herring"],
    )
    document_create(
        ecosystem=ecosystem,
        title="Mira's diary",
        content="I dream of the sea at night.",
        character_ids=[mira.pk],
    )
    url = f"/api/v1/ecosystem/{ecosystem.pk}/search"
    results = api.get(url, {"q": "what fuel does the lighthouse use", "k": 2}).json()["results"]
    assert results[0]["document_title"] == "Lamp" and len(results) == 2
    assert set(results[0]) == {"text", "score", "document_id", "document_title", "position", "keys"}
    fish = api.get(url, {"q": "buying fish at the market", "k": 1}).json()["results"][0]
    assert fish["document_title"] == "Fish" and fish["keys"] == ["herring"]
    for_otto = api.get(url, {"q": "dream of the sea", "k": 5, "character": str(otto.pk)}).json()
    assert "Mira's diary" not in [hit["document_title"] for hit in for_otto["results"]]
    for_mira = api.get(url, {"q": "dream of the sea", "k": 1, "character": str(mira.pk)}).json()
    assert for_mira["results"][0]["document_title"] == "Mira's diary"
    hits = lore_retrieve(ecosystem.pk, "I love herring", 2)
    assert hits[0].document_title == "Fish" and hits[0].triggered


@pytest.mark.parametrize(
    "params",
    [{"q": ""}, {"q": "x", "k": 0}, {"q": "x", "k": 51}, {"k": 5}, {"q": "x", "character": "nope"}],
)
def test_bad_search_parameters_answer_400(api, ecosystem, params):
    response = api.get(f"/api/v1/ecosystem/{ecosystem.pk}/search", params)
    assert response.status_code == 400
    assert response.json()["detail"]
