"""/api/docs loads nothing from outside the site (drf-spectacular-sidecar), and every page
sends the Content-Security-Policy (django-csp) with no inline script or style allowed
(issue 17). The browser side of both is tests/e2e/test_content_security_policy.py."""

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db

REFERENCE = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']""")
COMMENTS = re.compile(r"{%\s*comment\s*%}.*?{%\s*endcomment\s*%}|{#.*?#}", re.S)
ANY_URL = re.compile(r"""https?://[^\s"'<>)]+""")


def references(html: str) -> list[str]:
    return REFERENCE.findall(html)


def policy_of(response) -> dict[str, list[str]]:
    header = response.headers["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def test_api_docs_reference_no_url_outside_the_site(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert ANY_URL.findall(html) == []
    for reference in references(html):
        parts = urlsplit(reference)
        assert not parts.scheme and not parts.netloc, reference
        assert reference.startswith("/"), reference
    assert "<script>" not in html and "<style>" not in html  # nothing inline


def test_the_files_api_docs_reference_are_served(client):
    html = client.get("/api/docs").content.decode()
    static_files = [ref for ref in references(html) if ref.startswith(settings.STATIC_URL)]
    assert len(static_files) >= 4  # Swagger UI's css and two scripts, the favicon, page css
    assert any(
        "drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js" in ref
        for ref in static_files
    )
    for ref in static_files:
        assert finders.find(ref.removeprefix(settings.STATIC_URL)), ref
    [script_url] = [ref for ref in references(html) if ref.startswith("/api/docs")]
    script = client.get(script_url)
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert b"SwaggerUIBundle(" in script.content
    assert ANY_URL.findall(script.content.decode()) == []


@pytest.mark.parametrize("path", ["/api/docs", "/accounts/login/", "/admin/login/"])
def test_pages_send_a_policy_without_inline_script_or_style(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]


def test_the_api_sends_the_policy_too(api):
    assert "default-src 'self'" in api.get("/api/v1/ecosystems")["Content-Security-Policy"]


def test_templates_have_no_inline_script_style_or_handler():
    """What the policy would block: a <script> or <style> without a src, a style attribute,
    an on...= handler."""
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)
    for template in (settings.BASE_DIR / "templates").rglob("*.html"):
        text = COMMENTS.sub("", template.read_text())
        assert not inline.findall(text), template
