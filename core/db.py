"""Database helpers the ORM does not offer in the shape the hot path needs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar, cast

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Field, Model, UUIDField

M = TypeVar("M", bound=Model)
Converter = Callable[[Any, Any, Any], Any]
_UUID = UUIDField()


def _db() -> BaseDatabaseWrapper:
    """The default database's connection itself. ``django.db.connection`` is a proxy that
    looks the connection up again (a context-local read) on every attribute, and the hot
    path hands it to each value's preparation: ~110 look-ups an interaction."""
    return connections[DEFAULT_DB_ALIAS]


@dataclass(frozen=True)
class _RowReader:
    columns: str
    select: str
    order_by: str
    attnames: tuple[str, ...]
    converters: tuple[tuple[int, tuple[Converter, ...], Any], ...]

    def values(self, row: Sequence[Any], db: BaseDatabaseWrapper) -> Sequence[Any]:
        if not self.converters:
            return row
        values = list(row)
        for index, converters, column in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, db)
        return values


@lru_cache(maxsize=32)
def _row_reader(model: type[Model], vendor: str) -> _RowReader:
    """The ``SELECT`` of all of ``model``'s columns and the database's value converters,
    written once per model (and database vendor)."""
    db = _db()
    meta = model._meta
    fields = meta.concrete_fields
    quote = db.ops.quote_name
    converters = []
    for index, field in enumerate(fields):
        column = field.get_col(meta.db_table)
        found = (*db.ops.get_db_converters(column), *field.get_db_converters(db))
        if found:
            converters.append((index, tuple(found), column))
    assert meta.pk is not None
    columns = ", ".join(quote(str(field.column)) for field in fields)
    return _RowReader(
        columns=columns,
        select=f"SELECT {columns} FROM {quote(meta.db_table)}",  # noqa: S608 (quoted names)
        order_by=quote(str(meta.pk.column)),
        attnames=tuple(field.attname for field in fields),
        converters=tuple(converters),
    )


def rows_select(
    model: type[M], where: str, params: Sequence[Any], *, for_update: bool = False
) -> list[M]:
    """The rows of ``model`` matching ``where`` (SQL over its columns), in primary-key
    order; ``for_update`` locks them where the database can lock rows.

    The lock is ``FOR NO KEY UPDATE`` where the database has it: as exclusive as ``FOR
    UPDATE`` among writers, but it lets other transactions' foreign-key checks (``FOR KEY
    SHARE``) through. With ``FOR UPDATE``, an interaction whose reflection names a character
    outside its pair (docs/models.md) waited at commit on that character's lock while the
    holder waited on the pair: a deadlock under load (bench_graph_lag).

    For the hot path's few fixed queries: the statement is written from the model's fields
    once, where the ORM compiles its query again on every call, which costs more than the
    query itself (~0.6 ms of ~0.8 ms for the interaction's locking reads, bench_interactions).
    UUID parameters are sent the way Django stores them on the database (hex on SQLite).
    """
    db = _db()
    reader = _row_reader(model, db.vendor)
    sql = f"{reader.select} WHERE {where} ORDER BY {reader.order_by}"
    if for_update and db.features.has_select_for_update:
        no_key = db.features.has_select_for_no_key_update
        sql += " FOR NO KEY UPDATE" if no_key else " FOR UPDATE"
    return [
        model.from_db(db.alias, reader.attnames, reader.values(row, db))
        for row in rows_fetch(sql, params)
    ]


def model_columns(model: type[Model]) -> str:
    """All of ``model``'s columns, quoted, in the order ``model_from_row`` reads them: for a
    fixed hot-path statement that reads whole rows and something more in one go."""
    return _row_reader(model, _db().vendor).columns


def model_from_row(model: type[M], row: Sequence[Any]) -> M:
    """The instance whose columns (``model_columns``) open ``row``; the rest is ignored."""
    db = _db()
    reader = _row_reader(model, db.vendor)
    values = reader.values(row[: len(reader.attnames)], db)
    return model.from_db(db.alias, reader.attnames, values)


def rows_fetch(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
    """The rows of a fixed hot-path statement, as tuples; UUID parameters sent the way
    Django stores them on the database (hex on SQLite)."""
    db = _db()
    with db.cursor() as cursor:
        cursor.execute(sql, _db_params(params, db))
        return cursor.fetchall()


def rows_execute(sql: str, params: Sequence[Any]) -> None:
    """Run a fixed hot-path statement that answers no rows (parameters as ``rows_fetch``)."""
    db = _db()
    with db.cursor() as cursor:
        cursor.execute(sql, _db_params(params, db))


def _db_params(params: Sequence[Any], db: BaseDatabaseWrapper) -> list[Any]:
    return [
        _UUID.get_db_prep_value(value, db) if isinstance(value, uuid.UUID) else value
        for value in params
    ]


def rows_insert(rows: Sequence[Model]) -> None:
    """Insert new rows of one model with one multi-row ``INSERT ... VALUES``, as ``save()``
    would insert each (``auto_now`` fields set, values prepared by their fields); a primary
    key the database assigns is read back with ``RETURNING``.

    For the hot path's small inserts: ``bulk_create`` on PostgreSQL sends each column as an
    array for ``UNNEST``, and dumping those arrays costs more than the statement; ``create()``
    compiles its INSERT on every call (bench_interactions).
    """
    if not rows:
        return
    db = _db()
    model = type(rows[0])
    meta = model._meta
    assert meta.pk is not None
    assigned = meta.pk.db_returning  # the database's sequence assigns it
    if assigned and not db.features.can_return_rows_from_bulk_insert:
        model._base_manager.bulk_create(rows)  # SQLite before 3.35
        return
    sql, params = insert_statement(rows)
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        if assigned:
            for row, (key,) in zip(rows, cursor.fetchall(), strict=True):
                row.pk = key
    rows_mark_saved(rows)


def insert_statement(rows: Sequence[Model]) -> tuple[str, list[Any]]:
    """``rows_insert``'s statement and parameters, for a caller that sends them inside a
    larger statement (a data-modifying CTE); then ``rows_mark_saved``."""
    db = _db()
    sql, fields = _insert_sql(type(rows[0]), len(rows), db.vendor)
    params = [
        field.get_db_prep_save(field.pre_save(row, add=True), db)
        for row in rows
        for field in fields
    ]
    return sql, params


def rows_mark_saved(rows: Sequence[Model]) -> None:
    """Mark inserted rows as saved, as ``save()`` does."""
    for row in rows:
        row._state.adding = False
        row._state.db = DEFAULT_DB_ALIAS


@lru_cache(maxsize=64)
def _insert_sql(
    model: type[Model], count: int, vendor: str
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    """rows_insert's statement for ``count`` rows and the fields it sends, written once."""
    db = _db()
    meta = model._meta
    assert meta.pk is not None
    assigned = meta.pk.db_returning
    fields = tuple(f for f in meta.concrete_fields if not (assigned and f is meta.pk))
    quote = db.ops.quote_name
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608 (quoted names)
        f"({', '.join(quote(str(field.column)) for field in fields)}) "
        f"VALUES {', '.join([row_sql] * count)}"
    )
    if assigned:
        sql += f" RETURNING {quote(str(meta.pk.column))}"
    return sql, fields


@lru_cache(maxsize=64)
def _update_sql(
    model: type[Model], fields: tuple[str, ...], count: int
) -> tuple[str, tuple[Field[Any, Any], ...]]:
    """rows_update's PostgreSQL statement for ``count`` rows and its columns (the primary
    key first), written once."""
    db = _db()
    meta = model._meta
    assert meta.pk is not None
    columns: tuple[Field[Any, Any], ...] = (
        meta.pk,
        *(cast("Field[Any, Any]", meta.get_field(name)) for name in fields),
    )
    quote = db.ops.quote_name
    names = [quote(str(field.column)) for field in columns]
    row_sql = "(" + ", ".join(f"%s::{field.db_type(db)}" for field in columns) + ")"
    assignments = ", ".join(f"{name} = v.{name}" for name in names[1:])
    sql = (
        f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "  # noqa: S608 (quoted names)
        f"FROM (VALUES {', '.join([row_sql] * count)}) AS v ({', '.join(names)}) "
        f"WHERE t.{names[0]} = v.{names[0]}"
    )
    return sql, columns


def rows_update(rows: Sequence[Model], fields: Sequence[str]) -> None:
    """Write ``fields`` of several rows of one model, each with its own values.

    On PostgreSQL this is one statement, ``UPDATE t SET f = v.f FROM (VALUES ...) v WHERE
    t.pk = v.pk``; ``bulk_update`` says the same with a CASE per field, whose compilation
    costs more than the query. Elsewhere (SQLite in the embedded mode) one UPDATE per row.
    """
    if not rows:
        return
    db = _db()
    model = type(rows[0])
    if db.vendor != "postgresql":
        for row in rows:
            model._base_manager.filter(pk=row.pk).update(
                **{field: getattr(row, field) for field in fields}
            )
        return
    sql, columns = _update_sql(model, tuple(fields), len(rows))
    params = [
        field.get_db_prep_save(getattr(row, field.attname), db) for row in rows for field in columns
    ]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
