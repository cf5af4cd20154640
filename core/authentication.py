"""Bearer-token authentication for the API: simplejwt's, with the user read by one
hand-written statement (``rows_select``). Every API request reads its user; the ORM's
``get()`` spends more compiling that query than the query takes: simplejwt's ``get_user``
took ~1.05 ms and this one ~0.37 ms (medians on the real PostgreSQL; docs/architecture.md,
"Decisions").

A token's signature and claims are checked once per process: the validated token is kept
(``_validated``, keyed by the token's exact bytes) and only its expiry is checked again on
the next request that carries it. PyJWT's decode was ~3% of a Daphne process's CPU under
bench_interactions, for an answer that cannot change until the token expires. simplejwt
builds its verifying backend, and so reads the signing key, once per process too: a new
key takes a restart either way."""

from functools import lru_cache
from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.tokens import Token
from rest_framework_simplejwt.utils import aware_utcnow

from .db import rows_select

# Validated tokens kept per process: an access token lives minutes, and a client sends the
# same one with every request until then.
VALIDATED_TOKENS_KEPT = 1024


@lru_cache(maxsize=VALIDATED_TOKENS_KEPT)
def _validated(raw_token: bytes) -> Token:
    """simplejwt's validation of ``raw_token``, once per process (a refusal raises, and
    is not kept)."""
    return authentication.JWTAuthentication().get_validated_token(raw_token)


class JWTAuthentication(authentication.JWTAuthentication):
    def get_validated_token(self, raw_token: bytes) -> Token:
        token = _validated(bytes(raw_token))
        try:
            token.check_exp(current_time=aware_utcnow())
        except TokenError:
            # Expired since it was kept: validated afresh, for simplejwt's usual 401.
            return super().get_validated_token(raw_token)
        return token

    def get_user(self, validated_token: Any) -> Any:
        user_id = validated_token.get(api_settings.USER_ID_CLAIM)
        if (
            user_id is None
            or self.user_model._meta.pk.name != api_settings.USER_ID_FIELD
            or api_settings.CHECK_REVOKE_TOKEN
        ):
            return super().get_user(validated_token)  # its own errors and checks
        users = rows_select(self.user_model, f"{self.user_model._meta.pk.column} = %s", [user_id])
        if not users:
            raise AuthenticationFailed(_("User not found"), code="user_not_found")
        if api_settings.CHECK_USER_IS_ACTIVE and not users[0].is_active:
            raise AuthenticationFailed(_("User is inactive"), code="user_inactive")
        return users[0]


class JWTScheme(SimpleJWTScheme):
    """The OpenAPI schema's bearer scheme for this class, as drf-spectacular gives simplejwt's."""

    target_class = "core.authentication.JWTAuthentication"
