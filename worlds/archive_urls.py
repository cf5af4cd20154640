"""World archive routes (docs/archives.md). ``ecosystems/import`` must be matched before the
ecosystem router's detail route (``ecosystems/{pk}``), which would take ``import`` as a pk."""

from core.api import api_route

from .archive_apis import EcosystemArchiveApi, EcosystemImportApi

urlpatterns = [
    api_route(r"ecosystems/import", EcosystemImportApi.as_view(), "ecosystem-import"),
    api_route(
        r"ecosystems/(?P<ecosystem_id>[^/]+)/archive",
        EcosystemArchiveApi.as_view(),
        "ecosystem-archive",
    ),
]
