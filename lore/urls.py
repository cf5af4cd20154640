from core.api import api_route

from .apis import DocumentDetailApi, EcosystemDocumentsApi, LoreSearchApi

urlpatterns = [
    api_route(
        r"ecosystem/(?P<ecosystem_id>[^/]+)/documents",
        EcosystemDocumentsApi.as_view(),
        "ecosystem-documents",
    ),
    api_route(
        r"ecosystem/(?P<ecosystem_id>[^/]+)/documents/(?P<document_id>[^/]+)",
        DocumentDetailApi.as_view(),
        "ecosystem-document-detail",
    ),
    api_route(r"documents/(?P<document_id>[^/]+)", DocumentDetailApi.as_view(), "document-detail"),
    api_route(r"ecosystem/(?P<ecosystem_id>[^/]+)/search", LoreSearchApi.as_view(), "lore-search"),
]
