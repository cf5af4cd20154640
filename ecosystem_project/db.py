"""Database helpers the ORM does not offer in the shape the hot path needs."""

from collections.abc import Sequence
from typing import Any, cast

from django.db import connection
from django.db.models import Field, Model


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of several rows of one model, each with its own values.

    On PostgreSQL this is one statement, ``UPDATE t SET f = v.f FROM (VALUES ...) v WHERE
    t.pk = v.pk``; ``bulk_update`` says the same with a CASE per field, whose compilation
    costs more than the query. Elsewhere (SQLite in the embedded mode) one UPDATE per row.
    """
    if not rows:
        return
    model = type(rows[0])
    meta = model._meta
    if connection.vendor != "postgresql":
        for row in rows:
            model._base_manager.filter(pk=row.pk).update(
                **{field: getattr(row, field) for field in fields}
            )
        return
    assert meta.pk is not None
    columns: list[Field[Any, Any]] = [
        meta.pk,
        *(cast("Field[Any, Any]", meta.get_field(name)) for name in fields),
    ]
    quote = connection.ops.quote_name
    names = [quote(str(field.column)) for field in columns]
    row_sql = "(" + ", ".join(f"%s::{field.db_type(connection)}" for field in columns) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 (quoted names)
        f"FROM (VALUES {', '.join([row_sql] * len(rows))}) AS v ({', '.join(names)}) "
        f"WHERE t.{names[0]} = v.{names[0]}"
    )
    params = [
        field.get_db_prep_save(getattr(row, field.attname), connection)
        for row in rows
        for field in columns
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
