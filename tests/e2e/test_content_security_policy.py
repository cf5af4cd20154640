"""The Content-Security-Policy in a real browser (issue 17): every page a person opens (the
observatory with its Import card dialog, a character with its avatar, a scenario, the Lore
page, the admin and the API docs) sends the header and works under it, with no violation
reported and nothing in the console."""

import re

import pytest
from playwright.sync_api import expect

from characters.services import character_import_card
from tests.characters.cardkit import b64, png_with, tiny_png, v2
from tests.e2e.test_observatory import make_harbor_town, off_loop
from tests.factories import UserFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Registered before any script of the page runs (Playwright injects it outside the page's
# policy): every violation the page reports is kept.
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(
    `${event.effectiveDirective} blocked ${event.blockedURI || "inline"} ` +
    `(${event.sourceFile}:${event.lineNumber})`
  );
});
"""


class PolicyWatch:
    """A browser session that records console messages, page errors and CSP violations."""

    def __init__(self, session):
        self.session = session
        self.page = session.page
        self.console: list[str] = []
        session.context.add_init_script(RECORD_VIOLATIONS)
        self.page.on("console", self._on_console)
        self.failed: list[str] = []
        self.page.on("response", self._on_response)

    def _on_console(self, message) -> None:
        if message.type in ("error", "warning"):
            self.console.append(f"{message.type}: {message.text}")

    def _on_response(self, response) -> None:
        if response.status >= 400:
            self.failed.append(f"{response.status} {response.url}")

    def open(self, path: str) -> None:
        response = self.page.goto(f"{self.session.url}{path}")
        assert response is not None and response.ok, path
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'self'" in policy, (path, policy)
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, policy

    def assert_clean(self, where: str) -> None:
        violations = self.page.evaluate("() => window.__cspViolations")
        assert violations == [], (where, violations)
        assert self.console == [], (where, self.console, self.failed)
        assert self.session.errors == [], (where, self.session.errors)


@pytest.fixture
def watch(open_browser) -> PolicyWatch:
    return PolicyWatch(open_browser())


def test_observatory_character_and_scenario_pages_work_under_the_policy(watch):
    user = UserFactory()
    ecosystem, cast, scenario = make_harbor_town(user)
    watch.session.login(user)
    watch.assert_clean("login")

    watch.open("/")
    expect(watch.page.get_by_role("link", name="Harbor Town")).to_be_visible()
    watch.assert_clean("ecosystem list")

    watch.open(f"/ecosystems/{ecosystem.pk}/")
    watch.session.wait_live()  # the WebSocket connected (connect-src 'self')
    watch.page.wait_for_load_state("networkidle")  # the graph and the panels drawn
    watch.assert_clean("observatory")

    watch.open(f"/characters/{cast[0].pk}/")
    for fill in watch.page.locator("[data-meter-percent]").all():  # energy and five traits
        percent = fill.get_attribute("data-meter-percent")
        expect(fill).to_have_attribute("style", f"width: {percent}%;")
    watch.assert_clean("character")

    watch.open(f"/scenarios/{scenario.pk}/")
    bar = watch.page.locator("[data-energy-bar]").first
    expect(bar).to_have_attribute("style", re.compile(r"^width: \d+%;$"))
    watch.assert_clean("scenario")

    watch.open(f"/ecosystems/{ecosystem.pk}/lore/")
    expect(watch.page.locator("#documents-table")).to_have_attribute("data-loaded", "true")
    watch.assert_clean("lore")


def test_the_import_card_preview_and_avatars_work_under_the_policy(watch):
    """The preview shows the card's image as a data: URL (img-src allows data:), the panel
    and the character page load the avatar from the API (same site)."""
    user = UserFactory()
    ecosystem, _cast, _scenario = make_harbor_town(user)
    card = png_with({"chara": b64(v2())}, image=tiny_png(size=6))
    seraphina = off_loop(
        character_import_card, ecosystem=ecosystem, data=card, filename="seraphina.png"
    )
    watch.session.login(user)
    watch.open(f"/ecosystems/{ecosystem.pk}/")
    watch.session.wait_live()
    watch.page.get_by_role("button", name="Import card").click()
    watch.page.set_input_files(
        "#card-file", {"name": "again.png", "mimeType": "image/png", "buffer": card}
    )
    expect(watch.page.locator("#card-avatar")).to_be_visible()
    watch.page.click("#card-cancel")
    watch.page.locator(f'#character-index [data-character-id="{seraphina.pk}"]').click()
    expect(watch.page.locator("#panel-avatar")).to_be_visible()
    watch.page.wait_for_load_state("networkidle")
    watch.assert_clean("observatory with the import preview and an avatar")

    watch.open(f"/characters/{seraphina.pk}/")
    expect(watch.page.locator("#character-avatar")).to_be_visible()
    watch.page.wait_for_load_state("networkidle")
    watch.assert_clean("character with an avatar")


def test_admin_login_and_index_work_under_the_policy(watch):
    UserFactory(username="csp-admin", is_staff=True, is_superuser=True)
    watch.open("/admin/login/")
    watch.assert_clean("admin login")
    watch.page.fill("input[name=username]", "csp-admin")
    watch.page.fill("input[name=password]", "pass-word-123")
    watch.page.click("input[type=submit]")
    watch.page.wait_for_url(f"{watch.session.url}/admin/")
    expect(watch.page.locator("#site-name")).to_be_visible()
    watch.open("/admin/characters/character/")
    watch.assert_clean("admin")


def test_api_docs_render_from_the_site_alone(watch):
    """Swagger UI comes from drf-spectacular-sidecar's static files, and its init script
    from a URL: it renders the operations with nothing from outside the site."""
    outside: list[str] = []
    watch.page.on(
        "request",
        lambda request: (
            None if request.url.startswith(watch.session.url) else outside.append(request.url)
        ),
    )
    watch.open("/api/docs")
    expect(watch.page.locator(".swagger-ui .info .title")).to_contain_text(
        "Character Ecosystem API"
    )
    expect(watch.page.locator(".opblock").first).to_be_visible()
    assert outside == []
    watch.assert_clean("api docs")
