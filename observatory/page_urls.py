"""Server-rendered pages of the observatory (docs/observatory.md)."""

from django.urls import path

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
    path("ecosystems/<uuid:ecosystem_id>/lore/", views.lore_page, name="lore"),
    path("scenarios/<uuid:scenario_id>/", views.scenario_chat_page, name="scenario-chat"),
    path("characters/<uuid:character_id>/", views.character_page, name="character"),
]
