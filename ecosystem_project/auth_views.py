"""The two ways to log in, with login-attempt limiting (core.throttling):
the session login form and ``POST /api/v1/auth/token`` (simplejwt). Too many attempts for
one username from one address answer 429 with ``Retry-After``; other users and other
addresses are not affected."""

from typing import Any

from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import Throttled
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework_simplejwt.serializers import TokenObtainPairSerializer
from rest_framework_simplejwt.views import TokenObtainPairView

from core.throttling import (
    LoginAttempt,
    TokenObtainRateThrottle,
    client_ip,
    login_attempt_begin,
    login_attempt_succeeded,
)

TOO_MANY_ATTEMPTS = (
    "Too many login attempts for this account from your address. Try again in %(seconds)s s."
)


def is_utf8_encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class RateLimitedAuthenticationForm(AuthenticationForm):
    """Django's login form; the password check is counted first and refused past the limit."""

    refused_attempt: LoginAttempt | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if not (username and password):
            return super().clean()
        if not (is_utf8_encodable(username) and is_utf8_encodable(password)):
            # A lone surrogate: no account can have it, and the database cannot take it.
            raise self.get_invalid_login_error()
        ip = client_ip(self.request) if self.request is not None else "unknown"
        attempt = login_attempt_begin(username=username, ip=ip)
        if not attempt.allowed:
            self.refused_attempt = attempt
            raise ValidationError(
                TOO_MANY_ATTEMPTS,
                code="too_many_attempts",
                params={"seconds": attempt.retry_after},
            )
        cleaned = super().clean()  # raises invalid_login; the attempt stays counted
        login_attempt_succeeded(attempt)
        return cleaned


class RateLimitedLoginView(LoginView):
    form_class = RateLimitedAuthenticationForm

    def form_invalid(self, form: AuthenticationForm) -> HttpResponse:
        response = super().form_invalid(form)
        attempt = getattr(form, "refused_attempt", None)
        if attempt is not None:
            response.status_code = 429
            response["Retry-After"] = str(attempt.retry_after)
        return response


class RateLimitedTokenObtainPairView(TokenObtainPairView):
    """simplejwt's token endpoint, throttled per client IP + username (scope ``auth``) and
    with login-attempt limiting."""

    throttle_classes = [TokenObtainRateThrottle]

    @extend_schema(
        request=TokenObtainPairSerializer,
        description=(
            "Obtain an access and a refresh token. Too many requests or failed attempts "
            "for one username from one address answer 429 with Retry-After."
        ),
    )
    def post(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        password = data.get("password") if hasattr(data, "get") else None
        if not (isinstance(username, str) and username and isinstance(password, str) and password):
            return super().post(request, *args, **kwargs)  # 400 naming the missing field
        attempt = login_attempt_begin(username=username, ip=client_ip(request))
        if not attempt.allowed:
            raise Throttled(
                wait=attempt.retry_after,
                detail="Too many login attempts for this account from your address.",
            )
        response = super().post(request, *args, **kwargs)  # 401 raises; stays counted
        if response.status_code == 200:
            login_attempt_succeeded(attempt)
        return response
