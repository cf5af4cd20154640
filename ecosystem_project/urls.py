from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView
from rest_framework_simplejwt.views import TokenRefreshView

from core.api import api_route

from .auth_views import RateLimitedLoginView, RateLimitedTokenObtainPairView
from .health import HealthApi
from .metrics import metrics_view

api_v1 = [
    api_route("auth/token", RateLimitedTokenObtainPairView.as_view(), "token-obtain"),
    api_route("auth/token/refresh", TokenRefreshView.as_view(), "token-refresh"),
    api_route("health", HealthApi.as_view(), "health"),
    # First: ecosystems/import must match before the ecosystem router's ecosystems/{pk}.
    path("", include("worlds.urls")),
    path("", include("characters.urls")),
    path("", include("relationships.urls")),
    path("", include("lore.urls")),
    path("", include("interactions.urls")),
    path("", include("memories.urls")),
    path("", include("scenarios.urls")),
    path("", include("observatory.urls")),
]

urlpatterns = [
    path("api/v1/", include(api_v1)),
    path("api/schema", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves Swagger UI's init script from /api/docs?script (no inline script
    # under the Content-Security-Policy); its files come from drf-spectacular-sidecar.
    path("api/docs", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("admin/", admin.site.urls),
    path("metrics", metrics_view, name="metrics"),
    path(
        "accounts/login/",
        RateLimitedLoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("observatory.page_urls")),
]
