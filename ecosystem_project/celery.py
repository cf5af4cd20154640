"""Celery application: the scenario clock and the graph sync run here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ecosystem_project.settings.embedded")

app = Celery("ecosystem_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
