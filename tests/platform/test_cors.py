"""CORS (django-cors-headers): the API answers configured origins only."""

import pytest

pytestmark = pytest.mark.django_db

ALLOWED = "https://studio.example"
FOREIGN = "https://evil.example"


@pytest.fixture(autouse=True)
def allowed_origins(settings):
    settings.CORS_ALLOWED_ORIGINS = [ALLOWED]


def test_a_configured_origin_gets_cors_headers(anonymous):
    response = anonymous.get("/api/v1/health", HTTP_ORIGIN=ALLOWED)
    assert response["Access-Control-Allow-Origin"] == ALLOWED


def test_a_foreign_origin_gets_no_cors_headers(anonymous):
    response = anonymous.get("/api/v1/health", HTTP_ORIGIN=FOREIGN)
    assert not [name for name in response.headers if name.lower().startswith("access-control-")]


def test_a_preflight_from_a_configured_origin_allows_the_bearer_header(anonymous):
    response = anonymous.options(
        "/api/v1/interactions",
        HTTP_ORIGIN=ALLOWED,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization, content-type",
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == ALLOWED
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "authorization" in response["Access-Control-Allow-Headers"].lower()


def test_a_preflight_from_a_foreign_origin_gets_no_cors_headers(anonymous):
    response = anonymous.options(
        "/api/v1/interactions",
        HTTP_ORIGIN=FOREIGN,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Access-Control-Allow-Methods" not in response.headers


def test_pages_outside_the_api_get_no_cors_headers_even_from_a_configured_origin(client):
    response = client.get("/accounts/login/", HTTP_ORIGIN=ALLOWED)
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers


def test_credentials_are_not_allowed_cross_origin_by_default(anonymous):
    response = anonymous.get("/api/v1/health", HTTP_ORIGIN=ALLOWED)
    assert "Access-Control-Allow-Credentials" not in response.headers
