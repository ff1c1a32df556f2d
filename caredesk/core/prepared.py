"""Read queries asked for every inbound message, written by the ORM once per process.

Building a query (filters, joins, ordering, compiling) costs the ORM more CPU than the database
takes to run a small indexed look-up. A `PreparedQuery` builds its queryset once per database
vendor with placeholder values, keeps the SQL, and afterwards only runs it with the real values.
Only for plain reads whose SQL does not depend on the values (no `__in` of a variable list).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.db import connection
from django.db.models import QuerySet


class PreparedQuery:
    """`PreparedQuery(lambda ticket_id: Ticket.objects.filter(pk=ticket_id).values_list(...),
    ticket_id=-7_000_001)`: the keyword values are placeholders, valid for their fields (else the
    ORM may find the query empty) and not otherwise among the query's parameters;
    `rows(ticket_id=5)` runs it and returns the raw rows (the database's own types)."""

    def __init__(self, build: Callable[..., QuerySet[Any]], **placeholders: int | str) -> None:
        self._build = build
        self._placeholders = placeholders
        self._compiled: dict[str, tuple[str, list[tuple[bool, Any]]]] = {}

    def _compile(self, vendor: str) -> tuple[str, list[tuple[bool, Any]]]:
        compiled = self._compiled.get(vendor)
        if compiled is None:
            sql, params = self._build(**self._placeholders).query.sql_with_params()
            names = {value: name for name, value in self._placeholders.items()}
            # (True, name): the caller's value for that placeholder; (False, value): a constant.
            slots = [
                (True, names[p]) if isinstance(p, int | str) and p in names else (False, p)
                for p in params
            ]
            missing = set(self._placeholders) - {name for is_slot, name in slots if is_slot}
            assert not missing, f"placeholders not found among the parameters: {missing}"
            compiled = self._compiled[vendor] = (sql, slots)
        return compiled

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        sql, slots = self._compile(connection.vendor)
        params = [values[item] if is_slot else item for is_slot, item in slots]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return list(cursor.fetchall())

    def first(self, **values: Any) -> tuple[Any, ...] | None:
        found = self.rows(**values)
        return found[0] if found else None


def plain_rows(queryset: QuerySet[Any]) -> list[tuple[Any, ...]]:
    """The rows of a values_list query as the database driver returns them (SQLite's booleans
    are 0 and 1, its JSON a string): for bulk reads of thousands of rows whose values need none of
    the ORM's per-value conversions, which cost more than the read."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


class PreparedIdsQuery:
    """`PreparedQuery` for the reads of bulk changes, `pk__in` thousands of ids:
    `PreparedIdsQuery(lambda ids: Ticket.objects.filter(pk__in=ids).values_list(...))`, then
    `rows(ids)` runs it per chunk of ids. The ORM builds the SQL once per vendor and chunk length
    (an `__in` of 500 values cost it more than the database took to run the query). Only for
    queries whose rows come once per matching id (the repeated ids that pad a chunk match no
    extra row in an `IN` list)."""

    def __init__(self, build: Callable[[list[int]], QuerySet[Any]], chunk: int = 500) -> None:
        self._build = build
        self._chunk = chunk
        self._compiled: dict[tuple[str, int], tuple[str, list[tuple[bool, Any]]]] = {}

    def _compile(self, vendor: str, size: int) -> tuple[str, list[tuple[bool, Any]]]:
        compiled = self._compiled.get((vendor, size))
        if compiled is None:
            # Negative placeholders: valid ids for the ORM, never a real row's, distinct.
            placeholders = list(range(-7_100_000, -7_100_000 + size))
            sql, params = self._build(placeholders).query.sql_with_params()
            position = {value: n for n, value in enumerate(placeholders)}
            slots = [
                (True, position[p]) if isinstance(p, int) and p in position else (False, p)
                for p in params
            ]
            found = sum(1 for is_slot, _ in slots if is_slot)
            assert found == size, f"{size - found} id placeholders not found among the parameters"
            compiled = self._compiled[(vendor, size)] = (sql, slots)
        return compiled

    def rows(self, ids: Iterable[int]) -> list[tuple[Any, ...]]:
        unique = list(dict.fromkeys(ids))  # an __in list holds each value once
        found: list[tuple[Any, ...]] = []
        with connection.cursor() as cursor:
            for start in range(0, len(unique), self._chunk):
                part = unique[start : start + self._chunk]
                # Lengths rounded up to a power of two (the last id repeated): a handful of
                # statements per query, not one per length.
                size = min(self._chunk, 1 << (len(part) - 1).bit_length())
                part += [part[-1]] * (size - len(part))
                sql, slots = self._compile(connection.vendor, size)
                cursor.execute(sql, [part[item] if is_slot else item for is_slot, item in slots])
                found += cursor.fetchall()
        return found
