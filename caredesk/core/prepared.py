"""Read queries asked for every inbound message, written by the ORM once per process.

Building a query (filters, joins, ordering, compiling) costs the ORM more CPU than the database
takes to run a small indexed look-up. A `PreparedQuery` builds its queryset once per database
vendor with placeholder values, keeps the SQL, and afterwards only runs it with the real values.
Only for plain reads whose SQL does not depend on the values (no `__in` of a variable list).
"""

from __future__ import annotations

from collections.abc import Callable
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


class PreparedInQuery:
    """A `PreparedQuery` with one list of values of any length (`field__in=list`):
    `PreparedInQuery(lambda keys: Message.objects.filter(external_id__in=keys).values_list(...),
    "keys", keys="\\x00placeholder\\x00")` builds the SQL once per database vendor with a list of
    the one placeholder, then widens its `IN (%s)` to the length of the list it is given;
    `rows(keys=[...])` runs it (chunks of CHUNK values) and returns the raw rows. For batch
    look-ups (a listener's batch of mail): the ORM's work per query costs more than the query."""

    CHUNK = 500  # values per statement: under SQLite's historical limit of 999 parameters
    # PostgreSQL takes up to 65,535 parameters a statement: fewer round trips for the same rows.
    CHUNK_POSTGRESQL = 5_000

    def __init__(
        self, build: Callable[..., QuerySet[Any]], listed: str, **placeholders: int | str
    ) -> None:
        self._listed = listed
        self._inner = PreparedQuery(
            lambda **values: build(**{**values, listed: [values[listed]]}), **placeholders
        )
        self._widened: dict[tuple[str, int], str] = {}

    def _sql(self, vendor: str, count: int) -> tuple[str, list[tuple[bool, Any]]]:
        sql, slots = self._inner._compile(vendor)
        widened = self._widened.get((vendor, count))
        if widened is None:
            position = [name for is_slot, name in slots if is_slot].index(self._listed)
            index = [i for i, (is_slot, _) in enumerate(slots) if is_slot][position]
            pieces = sql.split("%s")
            assert len(pieces) == len(slots) + 1, "unexpected placeholders in the SQL"
            before, after = pieces[index], pieces[index + 1]
            assert before.rstrip().endswith("IN (") and after.startswith(")"), "not an IN list"
            widened = (
                "%s".join(pieces[: index + 1])
                + ", ".join(["%s"] * count)
                + "%s".join([after, *pieces[index + 2 :]])
            )
            self._widened[(vendor, count)] = widened
        return widened, slots

    def rows(self, **values: Any) -> list[tuple[Any, ...]]:
        listed = list(values[self._listed])
        found: list[tuple[Any, ...]] = []
        size = self.CHUNK_POSTGRESQL if connection.vendor == "postgresql" else self.CHUNK
        for start in range(0, len(listed), size):
            chunk = listed[start : start + size]
            sql, slots = self._sql(connection.vendor, len(chunk))
            params: list[Any] = []
            for is_slot, item in slots:
                if not is_slot:
                    params.append(item)
                elif item == self._listed:
                    params += chunk
                else:
                    params.append(values[item])
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                found += cursor.fetchall()
        return found
