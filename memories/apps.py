import threading

from django.apps import AppConfig


class MemoriesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "memories"

    def ready(self) -> None:
        # Load the embedding model in the background as the process starts, so the first
        # interactions neither wait for it nor share the interpreter with its loading while
        # they hold a transaction open (memories.services.embedder_ready).
        from .services import embedder_preload

        threading.Thread(target=embedder_preload, name="embedder-preload", daemon=True).start()
