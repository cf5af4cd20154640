from django.apps import AppConfig


class LoreConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "lore"
