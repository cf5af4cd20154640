"""Server-rendered pages of the observatory (docs/observatory.md)."""

from django.conf import settings
from django.contrib.staticfiles.views import serve as serve_static
from django.urls import path, re_path

from . import views

app_name = "observatory"

urlpatterns = [
    path("", views.ecosystem_list_page, name="ecosystem-list"),
    path("ecosystems/<uuid:ecosystem_id>/", views.observatory_page, name="observatory"),
    path(
        "ecosystems/<uuid:ecosystem_id>/scenarios/",
        views.scenario_list_partial,
        name="scenario-list-partial",
    ),
    path("scenarios/<uuid:scenario_id>/", views.scenario_chat_page, name="scenario-chat"),
    path("characters/<uuid:character_id>/", views.character_page, name="character"),
]

# In the embedded mode and in the browser tests Daphne is the only server (no proxy in front),
# so Django serves /static/ itself, straight from the finders (no collectstatic needed). A
# deployment whose proxy serves collectstatic's output sets SERVE_STATIC = False.
if getattr(settings, "SERVE_STATIC", True):
    urlpatterns.append(
        re_path(r"^static/(?P<path>.+)$", serve_static, {"insecure": True}, name="static")
    )
