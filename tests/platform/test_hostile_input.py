"""Input found to answer 500 when the API was tried from outside (issue 17), answered now
with the error envelope: nested JSON, oversized bodies, ``?limit=`` past 64 bits and lone
surrogates in the login username."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from core.jsonlimits import MAX_JSON_DEPTH, JSONTooDeep, loads_bounded, nesting_exceeds
from core.throttling import _digest, login_attempt_begin
from ecosystem_project.auth_views import RateLimitedAuthenticationForm
from tests.factories import CharacterFactory

pytestmark = pytest.mark.django_db

DEEP_ARRAY = "[" * 100_000
DEEP_OBJECT = '{"a":' * 5_000 + "1" + "}" * 5_000
CREATE_PATHS = ["/api/v1/ecosystems", "/api/v1/characters"]


def post_raw(client: APIClient, path: str, body: str | bytes, **extra):
    return client.generic(
        "POST",
        path,
        body.encode() if isinstance(body, str) else body,
        content_type="application/json",
        **extra,
    )


def assert_error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content[:300]
    body = response.json()
    assert body["code"] == code
    assert isinstance(body["detail"], str) and body["detail"]
    return body


# --- Nesting -------------------------------------------------------------------------------


@pytest.mark.parametrize("path", CREATE_PATHS)
@pytest.mark.parametrize("body", [DEEP_ARRAY, DEEP_OBJECT], ids=["arrays", "objects"])
def test_deeply_nested_json_answers_400_json_too_deep(api, path, body):
    response = post_raw(api, path, body)
    detail = assert_error(response, 400, "json_too_deep")["detail"]
    assert str(MAX_JSON_DEPTH) in detail


def test_nesting_up_to_the_limit_reaches_the_view(api):
    """At the limit the body parses, and the view answers about its fields as usual."""
    nested = "[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1)
    response = post_raw(api, "/api/v1/ecosystems", f'{{"name": {nested}}}')
    assert_error(response, 400, "invalid")


def test_brackets_inside_strings_do_not_count_as_nesting(api):
    name = ("[{" * 200) + '\\"' + ("]}" * 10)
    response = post_raw(api, "/api/v1/ecosystems", json.dumps({"name": name[:100]}))
    assert response.status_code == 201, response.content
    assert not nesting_exceeds(json.dumps({"bio": "[" * 1000 + '\\"[' * 100}), 2)


def test_loads_bounded_refuses_deep_nesting_with_a_value_error():
    with pytest.raises(ValueError):
        loads_bounded(DEEP_ARRAY)
    with pytest.raises(JSONTooDeep):
        loads_bounded('{"type": ' * 5_000, max_depth=16)
    assert loads_bounded('{"type": "ping"}') == {"type": "ping"}
    assert loads_bounded("[[1]]", max_depth=2) == [[1]]
    with pytest.raises(JSONTooDeep):
        loads_bounded("[[[1]]]", max_depth=2)


def depth_of(value) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth_of, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth_of, value), default=0)
    return 0


TRICKY_TEXT = st.text(alphabet=st.sampled_from('[]{}"\\ a\u00e9\ud800'), max_size=12)
JSON_VALUES = st.recursive(
    st.none() | st.integers() | TRICKY_TEXT,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(TRICKY_TEXT, children, max_size=3)
    ),
    max_leaves=40,
)


@given(value=JSON_VALUES, max_depth=st.integers(min_value=0, max_value=8))
def test_nesting_exceeds_agrees_with_the_parsed_depth(value, max_depth):
    for ensure_ascii in (True, False):
        text = json.dumps(value, ensure_ascii=ensure_ascii)
        assert nesting_exceeds(text, max_depth) == (depth_of(value) > max_depth)


def test_malformed_json_still_answers_400_parse_error(api):
    assert_error(post_raw(api, "/api/v1/ecosystems", '{"name": '), 400, "parse_error")
    assert_error(post_raw(api, "/api/v1/ecosystems", b'{"name": "\xff"}'), 400, "parse_error")


def test_every_endpoint_uses_the_bounded_parser(api, ecosystem):
    """Not only the two create endpoints: an update and the token endpoint too."""
    response = api.generic(
        "PATCH", f"/api/v1/ecosystems/{ecosystem.pk}", DEEP_ARRAY, content_type="application/json"
    )
    assert_error(response, 400, "json_too_deep")
    assert_error(post_raw(APIClient(), "/api/v1/auth/token", DEEP_ARRAY), 400, "json_too_deep")


# --- Body size -----------------------------------------------------------------------------


def test_a_body_over_the_limit_answers_413_with_the_limit(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = json.dumps({"name": "x", "description": "y" * 2000})
    detail = assert_error(post_raw(api, "/api/v1/ecosystems", body), 413, "body_too_large")[
        "detail"
    ]
    assert "1024" in detail
    small = json.dumps({"name": "small", "description": "y" * 500})
    assert post_raw(api, "/api/v1/ecosystems", small).status_code == 201


# --- ?limit= and ?offset= ------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/v1/ecosystems", "/api/v1/characters"])
@pytest.mark.parametrize(
    ("query", "parameter"),
    [
        ("limit=18446744073709551616", "limit"),
        ("limit=99999999999999999999999999", "limit"),
        ("limit=" + "9" * 5000, "limit"),
        ("limit=0", "limit"),
        ("limit=1001", "limit"),
        ("limit=ten", "limit"),
        ("offset=18446744073709551616", "offset"),
        ("offset=-1", "offset"),
    ],
)
def test_limit_or_offset_out_of_range_answers_400_naming_it(api, ecosystem, path, query, parameter):
    CharacterFactory(ecosystem=ecosystem)  # a list with rows: the database sees the slice
    body = assert_error(api.get(f"{path}?{query}"), 400, "invalid")
    assert body["detail"].startswith(f"{parameter}:")
    assert parameter in body["errors"]


def test_limit_and_offset_in_range_page_as_before(api, ecosystem):
    CharacterFactory.create_batch(3, ecosystem=ecosystem)
    response = api.get("/api/v1/characters?limit=2&offset=1")
    assert response.status_code == 200
    assert response.json()["count"] == 3
    assert len(response.json()["results"]) == 2
    assert api.get("/api/v1/characters?limit=1000").status_code == 200
    past_the_end = api.get(f"/api/v1/ecosystems?offset={2**63 - 1}")
    assert past_the_end.status_code == 200
    assert past_the_end.json()["results"] == []


# --- Lone surrogates -----------------------------------------------------------------------

LONE_SURROGATE_LOGIN = '{"username": "\\ud800", "password": "pass-word-123"}'


def test_token_endpoint_refuses_a_lone_surrogate_username_with_400():
    response = post_raw(APIClient(), "/api/v1/auth/token", LONE_SURROGATE_LOGIN)
    assert_error(response, 400, "invalid_unicode")


def test_any_body_with_a_lone_surrogate_answers_400_and_pairs_are_fine(api):
    response = post_raw(api, "/api/v1/ecosystems", '{"name": "bad \\udc00 name"}')
    assert_error(response, 400, "invalid_unicode")
    response = post_raw(api, "/api/v1/ecosystems", '{"name": "smile \\ud83d\\ude00"}')
    assert response.status_code == 201
    assert response.json()["name"] == "smile \U0001f600"


def test_session_login_form_refuses_a_lone_surrogate_as_a_failed_login(rf):
    form = RateLimitedAuthenticationForm(
        request=rf.post("/accounts/login/"),
        data={"username": "\ud800", "password": "pass-word-123"},
    )
    assert not form.is_valid()
    assert form.non_field_errors()


def test_session_login_page_with_surrogate_bytes_answers_200_not_500(client):
    response = client.post(
        "/accounts/login/",
        "username=%ED%A0%80&password=x",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert response.context["form"].errors


def test_the_throttle_digest_takes_any_string():
    assert _digest("127.0.0.1", "\ud800") != _digest("127.0.0.1", "\ud801")
    assert login_attempt_begin(username="\ud800", ip="127.0.0.1").allowed
