"""REST endpoints of the observatory app (events, dashboard, graph)."""

urlpatterns: list = []
