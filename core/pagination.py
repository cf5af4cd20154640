"""The REST lists' pagination (REST_FRAMEWORK's DEFAULT_PAGINATION_CLASS): ``?limit=&offset=``.

DRF's ``LimitOffsetPagination`` passes any integer on to the database, so ``?limit=`` past
the 64-bit range was a 500 from PostgreSQL, and ignores a malformed one silently. Here both
are checked like every other query parameter (the events API's ``limit`` too): ``limit``
from 1 to ``MAX_PAGE_SIZE``, ``offset`` from 0 to the largest 64-bit integer; anything else
answers 400 naming the parameter (docs/api.md, "Errors").
"""

from typing import Any

from rest_framework import pagination, serializers
from rest_framework.request import Request

MAX_PAGE_SIZE = 1000
MAX_OFFSET = 2**63 - 1  # PostgreSQL's OFFSET is a bigint


class PageQuery(serializers.Serializer[Any]):
    limit = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False)
    offset = serializers.IntegerField(min_value=0, max_value=MAX_OFFSET, required=False)


class BoundedLimitOffsetPagination(pagination.LimitOffsetPagination):
    max_limit = MAX_PAGE_SIZE

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        query = PageQuery(
            data={
                name: request.query_params[name]
                for name in (self.limit_query_param, self.offset_query_param)
                if name in request.query_params
            }
        )
        query.is_valid(raise_exception=True)
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        bounds = {
            self.limit_query_param: {"minimum": 1, "maximum": MAX_PAGE_SIZE},
            self.offset_query_param: {"minimum": 0, "maximum": MAX_OFFSET},
        }
        for parameter in parameters:
            parameter["schema"] = {**parameter["schema"], **bounds.get(parameter["name"], {})}
        return parameters
