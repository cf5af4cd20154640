from django.apps import AppConfig


class WorldsConfig(AppConfig):
    """Bringing worlds in and taking them out: Character Cards with their lorebooks,
    SillyTavern World Info, world archives and the move from SQLite to PostgreSQL. It reads and
    writes every layer below it (characters, lore, memories, scenarios and the event log), so
    it sits above scenarios (docs/architecture.md)."""

    default_auto_field = "django.db.models.BigAutoField"
    name = "worlds"
