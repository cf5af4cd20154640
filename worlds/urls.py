"""The portability endpoints (docs/cards.md, docs/operations.md); each module adds its own."""

urlpatterns: list = []
