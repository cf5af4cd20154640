"""Server-rendered pages of the observatory."""

from django.urls import path

from . import views

app_name = "observatory"

urlpatterns = [
    path("", views.ecosystem_list_page, name="ecosystem-list"),
]
