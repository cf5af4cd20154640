"""Every answer under /api/ is JSON, a path no route matches too (the long fuzz profile sent
ids the URL patterns refuse and got Django's HTML 404)."""

import pytest


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/ecosystems/Lb%19%1A%C2%85n.e%0E%F1%9C%B3%8FU%C3%A6/",
        "/api/v1/characters/not-a-uuid/",
        "/api/v1/no-such-thing",
    ],
)
def test_an_api_path_no_route_matches_answers_the_json_404(api, path):
    response = api.get(path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


@pytest.mark.django_db
def test_a_page_no_route_matches_keeps_the_html_404(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
