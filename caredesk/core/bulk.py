"""Multi-row INSERTs with every value given by the caller, timestamps included.

`bulk_create` would stamp each row's `auto_now_add` fields with its own clock reading; a batch that
must write the same instant in several tables (a ticket's `last_customer_message_at` is its first
message's `created_at`) gives `now` itself. One statement per chunk of rows, ids back in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db import NotSupportedError, connection
from django.db.models import (
    BooleanField,
    CharField,
    DateTimeField,
    Field,
    ForeignKey,
    IntegerField,
    JSONField,
    Model,
    TextField,
)


def _columns(model: type[Model]) -> list[Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if not f.primary_key]


def _preparer(field: Field[Any, Any]) -> Callable[[Any], Any] | None:
    """How a value of the field becomes a query parameter: None where the value is passed as it
    is (text, numbers, booleans, ids), else what `get_db_prep_save` does for that kind of field,
    without its per-call dispatch (the cost that dominates a few dozen rows)."""
    ops = connection.ops
    if isinstance(field, DateTimeField):
        return ops.adapt_datetimefield_value
    if isinstance(field, JSONField):
        encoder = field.encoder
        return lambda value: ops.adapt_json_value(value, encoder)
    if isinstance(field, CharField | TextField | IntegerField | BooleanField | ForeignKey):
        return None
    return lambda value: field.get_db_prep_save(value, connection)


def insert_rows(model: type[Model], rows: Sequence[Mapping[str, Any]], now: datetime) -> list[int]:
    """Insert `rows` of `model` and return their ids in order. A row maps field attnames
    (`ticket_id`, not `ticket`) to values; missing fields get their default, and `now` when they
    are `auto_now` / `auto_now_add`. Raises NotSupportedError where the database cannot return the
    ids of a multi-row INSERT."""
    if not rows:
        return []
    if not connection.features.can_return_rows_from_bulk_insert:
        raise NotSupportedError("multi-row INSERT ... RETURNING is not available")
    fields = _columns(model)
    quote = connection.ops.quote_name
    meta = model._meta
    placeholders = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Table and column names come from the model; every value is a bound parameter.
    head = (
        f"INSERT INTO {quote(meta.db_table)} "  # noqa: S608
        f"({', '.join(quote(f.column or f.attname) for f in fields)}) VALUES "
    )
    tail = f" RETURNING {quote(meta.pk.column or 'id')}"  # type: ignore[union-attr]
    stamped = {
        f.attname
        for f in fields
        if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)
    }
    columns = [(f.attname, f, _preparer(f)) for f in fields]
    chunk_size = max(1, connection.ops.bulk_batch_size(fields, list(rows)))
    ids: list[int] = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), chunk_size):
            chunk = rows[start : start + chunk_size]
            params: list[Any] = []
            for row in chunk:
                for name, f, prepare in columns:
                    if name in row:
                        value = row[name]
                    elif name in stamped:
                        value = now
                    else:
                        value = f.get_default()
                    params.append(value if prepare is None or value is None else prepare(value))
            cursor.execute(head + ", ".join([placeholders] * len(chunk)) + tail, params)
            ids += [pk for (pk,) in cursor.fetchall()]
    return ids


def update_by_ids(model: type[Model], ids: Sequence[int], values: Mapping[str, Any]) -> None:
    """Set the same field values (attnames) on the rows with these ids: one UPDATE per chunk,
    without a queryset to build."""
    if not ids:
        return
    meta = model._meta
    quote = connection.ops.quote_name
    fields = [meta.get_field(name) for name in values]
    assignments = ", ".join(f"{quote(f.column)} = %s" for f in fields)  # type: ignore[union-attr,arg-type]
    params: list[Any] = []
    for field, value in zip(fields, values.values(), strict=True):
        prepare = _preparer(field)  # type: ignore[arg-type]
        params.append(value if prepare is None or value is None else prepare(value))
    pk = quote(meta.pk.column or "id")  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            cursor.execute(
                # Table and column names come from the model; every value is a bound parameter.
                f"UPDATE {quote(meta.db_table)} SET {assignments} "  # noqa: S608
                f"WHERE {pk} IN ({', '.join(['%s'] * len(chunk))})",
                params + chunk,
            )
