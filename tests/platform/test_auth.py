"""Token lifecycle (simplejwt with rotation and blacklist) and session login."""

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

PASSWORD = "pass-word-123"


def obtain(client: APIClient, username: str, password: str = PASSWORD):
    return client.post(
        "/api/v1/auth/token", {"username": username, "password": password}, format="json"
    )


def test_token_obtain_use_refresh_rotate_and_blacklist(user):
    client = APIClient()
    tokens = obtain(client, user.username).json()
    assert set(tokens) == {"access", "refresh"}

    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    assert client.get("/api/v1/ecosystems").status_code == 200

    rotated = client.post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert rotated.status_code == 200
    assert rotated.json()["refresh"] != tokens["refresh"]

    # The old refresh token was blacklisted by the rotation: it cannot be replayed.
    replay = client.post(
        "/api/v1/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json"
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "token_not_valid"


def test_wrong_password_and_garbage_tokens_answer_401(user):
    client = APIClient()
    assert obtain(client, user.username, "wrong").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Bearer not.a.token")
    assert client.get("/api/v1/ecosystems").status_code == 401


def test_an_expired_access_token_answers_401(user):
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    token.set_exp(lifetime=-timedelta(seconds=1))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/ecosystems").status_code == 401


def test_a_token_accepted_before_answers_401_once_it_expires(user):
    """Validated tokens are kept per process (core.authentication): being kept must not
    extend a token's life."""
    import time
    from datetime import timedelta

    from rest_framework_simplejwt.tokens import AccessToken

    token = AccessToken.for_user(user)
    # "exp" is in whole seconds (rounded down): at least 2 s left for the first requests.
    token.set_exp(lifetime=timedelta(seconds=3))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert client.get("/api/v1/ecosystems").status_code == 200
    assert client.get("/api/v1/ecosystems").status_code == 200  # now from the kept token
    time.sleep(max(0.0, token["exp"] - time.time()) + 0.1)
    response = client.get("/api/v1/ecosystems")
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_tokens_are_signed_with_a_key_separate_from_secret_key(user):
    from django.conf import settings

    assert settings.SIMPLE_JWT["SIGNING_KEY"] != settings.SECRET_KEY
    token = obtain(APIClient(), user.username).json()["access"]
    with override_settings(SECRET_KEY="rotated-secret-key-that-is-long-enough-to-be-valid-xx"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        assert client.get("/api/v1/ecosystems").status_code == 200


def test_session_login_page_and_logout(client, user):
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/api/v1/ecosystems").status_code == 200  # the session authenticates the API
    client.post("/accounts/logout/")
    assert client.get("/api/v1/ecosystems").status_code in (401, 403)


@pytest.mark.parametrize(
    ("change", "detail"),
    [
        (lambda user: user.delete(), "User not found"),
        (lambda user: setattr(user, "is_active", False) or user.save(), "User is inactive"),
    ],
)
def test_a_valid_token_of_a_deleted_or_deactivated_user_answers_401(user, change, detail):
    from rest_framework_simplejwt.tokens import AccessToken

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {AccessToken.for_user(user)}")
    assert client.get("/api/v1/ecosystems").status_code == 200

    change(user)

    response = client.get("/api/v1/ecosystems")
    assert response.status_code == 401
    assert response.json()["detail"] == detail
