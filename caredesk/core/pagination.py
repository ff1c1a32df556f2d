"""Keyset (cursor) pagination: page N costs the same as page 1 at any table size."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from django.db.models import Q, QuerySet
from ninja import Field

from caredesk.core.errors import ValidationFailed

MAX_LIMIT = 200
# The `limit` query parameter of every paginated list, declared so the OpenAPI document says it.
PageLimit = Annotated[int, Field(ge=1, le=MAX_LIMIT)]


@dataclass
class Page:
    items: list[Any]
    next: str | None


def encode_cursor(values: list[Any]) -> str:
    return _encode(values)


def _encode(values: list[Any]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationFailed(
            "The cursor is not valid; start again from the first page.", code="bad_cursor"
        ) from exc
    if not isinstance(values, list) or len(values) != 2:
        raise ValidationFailed(
            "The cursor is not valid; start again from the first page.", code="bad_cursor"
        )
    return values


def paginate(queryset: QuerySet, *, order: str, cursor: str | None, limit: int) -> Page:
    """Order by `order` (a field name, '-' for descending) then id, and cut one page.

    The cursor holds the last row's (field, id); the next page starts strictly after it.
    """
    if limit < 1 or limit > MAX_LIMIT:
        raise ValidationFailed(f"limit must be between 1 and {MAX_LIMIT}.", code="bad_limit")
    field = order.lstrip("-")
    rows = list(after_cursor(queryset, order=order, cursor=cursor)[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if has_more and rows:
        last = rows[-1]
        next_cursor = _encode([getattr(last, field), last.id])
    return Page(items=rows, next=next_cursor)


def after_cursor(queryset: QuerySet, *, order: str, cursor: str | None) -> QuerySet:
    """The queryset in page order (`order`, then id), from just after the cursor's row; not yet
    cut to a page, so that it can go into a larger query."""
    descending = order.startswith("-")
    field = order.lstrip("-")
    ordering = [order, "-id" if descending else "id"]
    qs = queryset.order_by(*ordering)
    if cursor:
        last_value, last_id = _decode(cursor)
        model_field = queryset.model._meta.get_field(field)
        if last_value is not None and model_field.get_internal_type() == "DateTimeField":
            try:
                last_value = datetime.fromisoformat(last_value)
            except (TypeError, ValueError) as exc:
                raise ValidationFailed("The cursor is not valid.", code="bad_cursor") from exc
        op = "lt" if descending else "gt"
        qs = qs.filter(
            Q(**{f"{field}__{op}": last_value}) | Q(**{field: last_value, f"id__{op}": last_id})
        )
    return qs
