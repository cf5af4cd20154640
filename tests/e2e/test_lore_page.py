"""The Lore page in a real browser (issue 14, part 6): an author uploads a document (the
upload's progress, then "Embedding…"), sees it listed, searches it and reads the chunk; pastes
a keyed entry, edits and deletes it; and reads the API's own message for a refused file.
Documents may hold HTML: it shows as text.

In the full stack the search runs on Neo4j's vector index, which a Celery worker fills from
the chunks the upload stored. The live server's tasks go to a queue no worker of this module
reads, so the test does the worker's step itself (``lore_sync_pending``, against the real
Neo4j) before searching, and removes its nodes afterwards."""

import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from characters.services import character_create
from lore.graph import lore_sync_pending
from lore.models import Document
from relationships.graph import graph_cypher, graph_is_configured
from tests.e2e.conftest import PHONE
from tests.e2e.test_observatory import off_loop
from tests.factories import EcosystemFactory, UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Keeps every text the progress line shows, however briefly.
RECORD_PROGRESS = """
window.__progress = [];
new MutationObserver(() => {
  const text = document.getElementById("lore-progress-text")?.textContent;
  const seen = window.__progress;
  if (text && seen[seen.length - 1] !== text) seen.push(text);
}).observe(document, {subtree: true, childList: true, characterData: true});
"""

LIGHTHOUSE = (
    "# The Gull Point lighthouse\n\n"
    "The lighthouse at Gull Point is kept by Old Maren, who has tended its lamp for forty "
    "years and never once let it go dark. <script>alert('lore')</script> <b>not bold</b>\n\n"
)
FILLER_WORDS = ["nets", "tides", "gulls", "ropes", "lanterns", "boats", "storms", "bells"]


def lighthouse_document() -> bytes:
    """About 120 KB: the lighthouse first, then many sentences about other things, so the
    upload takes long enough to report its progress and makes a few hundred chunks."""
    filler = " ".join(
        f"In the year {1700 + index} the harbour counted its {FILLER_WORDS[index % 8]} "
        f"for the {index}th time, and the tally was {index * 7 % 113}."
        for index in range(1500)
    )
    return (LIGHTHOUSE + filler + "\n").encode()


@pytest.fixture
def lore_nodes() -> Iterator[list[str]]:
    """Ecosystem ids whose LoreChunk nodes are removed from Neo4j after the test."""
    ecosystem_ids: list[str] = []
    yield ecosystem_ids
    if graph_is_configured() and ecosystem_ids:
        graph_cypher(
            "MATCH (c:LoreChunk) WHERE c.ecosystem_id IN $ids DELETE c", {"ids": ecosystem_ids}
        )


def index_the_chunks(ecosystem) -> None:
    """The Celery worker's lore.graph_sync, run here (see the module's docstring)."""
    if graph_is_configured():
        off_loop(lore_sync_pending, ecosystem_id=ecosystem.pk)


def search_until_found(page, text: str, timeout: float = 60.0):
    """Search again until a hit shows ``text`` (the vector index takes new nodes in within
    moments of the sync's commit); returns that hit."""
    deadline = time.monotonic() + timeout
    hit = page.locator("#search-results .search-hit", has_text=text)
    while True:
        page.click("#lore-search button[type=submit]")
        # A first query may wait while Neo4j (re)builds the vector index.
        expect(page.locator("#search-summary")).not_to_have_text("Searching…", timeout=30_000)
        if hit.count():
            return hit
        assert time.monotonic() < deadline, page.locator("#search-summary").inner_text()
        time.sleep(0.5)


def make_town(user):
    def build():
        ecosystem = EcosystemFactory(owner=user, name="Harbor Town")
        character_create(ecosystem=ecosystem, name="Maren")
        return ecosystem

    return off_loop(build)


def open_lore_page(session, ecosystem):
    session.page.goto(f"{session.url}/ecosystems/{ecosystem.pk}/lore/")
    expect(session.page.locator("#documents-table")).to_have_attribute("data-loaded", "true")


def test_an_uploaded_document_is_listed_and_found_by_search(open_browser, lore_nodes):
    user = UserFactory()
    ecosystem = make_town(user)
    lore_nodes.append(str(ecosystem.pk))
    session = open_browser()
    session.context.add_init_script(RECORD_PROGRESS)
    session.login(user)
    page = session.page
    # The ecosystem's page links to its lore.
    page.goto(f"{session.url}/ecosystems/{ecosystem.pk}/")
    page.get_by_role("link", name="Lore", exact=True).click()
    page.wait_for_url(f"{session.url}/ecosystems/{ecosystem.pk}/lore/")
    expect(page.locator("#documents-empty")).to_be_visible()

    page.set_input_files(
        "#lore-file",
        {"name": "gull-point.md", "mimeType": "text/markdown", "buffer": lighthouse_document()},
    )
    expect(page.locator("#lore-file-name")).to_contain_text("gull-point.md")
    page.fill("#lore-title", "Gull Point")
    page.fill("#lore-keys", "lighthouse, Gull Point")
    page.click("#lore-submit")

    row = page.locator("#documents tr", has_text="Gull Point")
    expect(row).to_be_visible(timeout=60_000)
    expect(page.locator("#documents-message")).to_contain_text("Added “Gull Point”")
    expect(row.locator(".doc-kind")).to_have_text("Markdown")
    expect(row.locator(".key-chip")).to_have_text(["lighthouse", "Gull Point"])
    expect(row.locator(".doc-character")).to_have_text("Everyone")
    document = Document.objects.get(ecosystem=ecosystem)
    chunk_count = document.chunks.count()
    assert chunk_count > 50
    expect(row.locator(".doc-chunks")).to_have_text(str(chunk_count))
    progress = page.evaluate("() => window.__progress")
    assert any(text.startswith("Uploading…") and "%" in text for text in progress), progress
    assert "Embedding…" in progress, progress
    expect(page.locator("#lore-progress")).to_be_hidden()

    index_the_chunks(ecosystem)
    page.fill("#lore-q", "Who tends the lamp of the lighthouse?")
    page.fill("#lore-k", "3")
    best = search_until_found(page, "kept by Old Maren")
    expect(page.locator("#search-results .search-hit")).to_have_count(3)
    expect(page.locator("#search-summary")).to_have_text("3 chunks, best first.")
    expect(best.locator(".search-hit-title")).to_have_text("Gull Point")
    expect(best.locator(".search-hit-position")).to_have_text("chunk 1")
    expect(best.locator(".score")).to_contain_text("score ")
    expect(best.locator(".search-hit-text")).to_contain_text("kept by Old Maren")
    # The document's HTML is text on the page: the script is shown, never run.
    expect(best.locator(".search-hit-text")).to_contain_text("<script>alert('lore')</script>")
    assert page.locator("#search-results script, #search-results b").count() == 0
    assert session.dialogs == [] and session.errors == []
    session.screenshot("lore")


def test_a_pasted_keyed_entry_is_created_edited_and_deleted(open_browser, lore_nodes):
    user = UserFactory()
    ecosystem = make_town(user)
    lore_nodes.append(str(ecosystem.pk))
    maren = ecosystem.characters.get(name="Maren")
    session = open_browser()
    session.login(user)
    page = session.page
    open_lore_page(session, ecosystem)

    page.check("input[name=source][value=text]")
    expect(page.locator("#lore-file-part")).to_be_hidden()
    page.fill("#lore-content", "The storm bell rings three times before a gale.")
    page.fill("#lore-title", "The storm bell")
    page.fill("#lore-keys", "bell, gale")
    page.fill("#lore-secondary-keys", "storm")
    page.fill("#lore-order", "5")
    page.check("#lore-constant")
    page.select_option("#lore-character", str(maren.pk))
    page.click("#lore-submit")

    row = page.locator("#documents tr", has_text="The storm bell")
    expect(row).to_be_visible()
    expect(row.locator(".doc-keys > .key-chips .key-chip")).to_have_text(["bell", "gale"])
    expect(row.locator(".key-chip-secondary")).to_have_text(["storm"])
    expect(row.locator(".doc-flags")).to_have_text("constant · order 5")
    expect(row.locator(".doc-character")).to_have_text("Maren")
    document = Document.objects.get(ecosystem=ecosystem, title="The storm bell")
    assert document.keys == ["bell", "gale"] and document.secondary_keys == ["storm"]
    assert document.constant and document.order == 5
    assert list(document.characters.values_list("name", flat=True)) == ["Maren"]

    row.get_by_role("button", name="Edit The storm bell").click()
    expect(page.locator("#lore-form-title")).to_have_text("Edit “The storm bell”")
    expect(page.locator("#lore-content")).to_have_value(
        "The storm bell rings three times before a gale."
    )
    page.fill("#lore-keys", "bell, gale, squall")
    page.uncheck("#lore-constant")
    page.click("#lore-submit")
    expect(page.locator("#documents-message")).to_contain_text("Saved “The storm bell”")
    expect(row.locator(".doc-keys > .key-chips .key-chip")).to_have_text(["bell", "gale", "squall"])
    expect(row.locator(".doc-flags")).to_have_count(0)
    document.refresh_from_db()
    assert document.keys == ["bell", "gale", "squall"] and not document.constant
    # The picker was left alone: the entry stays Maren's.
    assert list(document.characters.values_list("name", flat=True)) == ["Maren"]

    row.get_by_role("button", name="Delete The storm bell").click()  # confirm() is accepted
    expect(row).to_have_count(0)
    expect(page.locator("#documents-empty")).to_be_visible()
    assert not Document.objects.filter(ecosystem=ecosystem).exists()
    assert session.errors == []


def test_a_refused_file_and_an_empty_search_show_the_apis_message(open_browser):
    user = UserFactory()
    ecosystem = make_town(user)
    session = open_browser()
    session.login(user)
    page = session.page
    open_lore_page(session, ecosystem)

    page.set_input_files(
        "#lore-file",
        {"name": "blob.txt", "mimeType": "text/plain", "buffer": b"\x00\x01\x02\xff" * 64},
    )
    page.click("#lore-submit")
    error = page.locator("#lore-form-error")
    expect(error).to_contain_text("The file is binary, not text")

    too_large = b"word " * (1024 * 1024 + 10)  # just over the 5 MiB default limit
    page.set_input_files(
        "#lore-file", {"name": "huge.txt", "mimeType": "text/plain", "buffer": too_large}
    )
    page.click("#lore-submit")
    expect(error).to_contain_text("larger than the limit", timeout=30_000)
    assert not Document.objects.filter(ecosystem=ecosystem).exists()

    page.click("#lore-search button[type=submit]")
    expect(page.locator("#lore-search-error")).to_contain_text("q:")
    assert session.errors == []


def test_a_long_paste_goes_up_as_a_file_on_a_phone_without_sideways_scrolling(
    open_browser, lore_nodes
):
    """Pasted text longer than a JSON body may be (256 KiB) is sent as a file, so the
    documents' own limit applies; the page fits a 390 px screen."""
    user = UserFactory()
    ecosystem = make_town(user)
    lore_nodes.append(str(ecosystem.pk))
    session = open_browser(viewport=PHONE)
    session.login(user)
    page = session.page
    open_lore_page(session, ecosystem)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]

    text = lighthouse_document().decode() * 3  # about 360 KB
    page.check("input[name=source][value=text]")
    page.locator("#lore-content").fill(text)
    page.select_option("#lore-kind", "markdown")
    page.fill("#lore-title", "The long chronicle")
    page.click("#lore-submit")

    row = page.locator("#documents tr", has_text="The long chronicle")
    expect(row).to_be_visible(timeout=60_000)
    document = Document.objects.get(ecosystem=ecosystem)
    assert document.kind == "markdown" and document.source_name == "pasted.md"
    assert len(document.content) > 300_000 and document.content.count("Old Maren") == 3
    expect(row.locator(".doc-chunks")).to_have_text(str(document.chunks.count()))
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    assert session.errors == []
