"""Bearer-token authentication for the API: simplejwt's, with the user read by one
hand-written statement (``rows_select``). Every API request reads its user; the ORM's
``get()`` spends more compiling that query than the query takes: simplejwt's ``get_user``
took ~1.05 ms and this one ~0.37 ms (medians on the real PostgreSQL; docs/architecture.md,
"Decisions")."""

from typing import Any

from django.utils.translation import gettext_lazy as _
from drf_spectacular.contrib.rest_framework_simplejwt import SimpleJWTScheme
from rest_framework.exceptions import AuthenticationFailed
from rest_framework_simplejwt import authentication
from rest_framework_simplejwt.settings import api_settings

from .db import rows_select


class JWTAuthentication(authentication.JWTAuthentication):
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
