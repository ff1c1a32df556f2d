"""Field types shared by the API schemas, so the OpenAPI document states the limits the server
enforces.

PATCH bodies: a field left out keeps its value; a field sent as null is refused unless the
column can be empty (then the schema says `X | None` and null clears it)."""

from __future__ import annotations

from typing import Annotated, Any

from ninja import Field

# Row ids are 64-bit signed integers in SQLite and PostgreSQL; a larger number names no row and
# would overflow the database driver.
DbId = Annotated[int, Field(ge=1, le=2**63 - 1)]


def _no_default(schema: dict[str, Any]) -> None:
    # The default (None) only means "left out"; published, it would tell clients null is valid.
    schema.pop("default", None)


def omittable(**constraints: Any) -> Any:
    """A PATCH field that may be left out but, when sent, must be a real value (never null).

    Pydantic does not validate defaults, so leaving the field out gives None (dropped by
    `exclude_unset`) while an explicit null fails validation with a 422 naming the field."""
    return Field(None, json_schema_extra=_no_default, **constraints)
