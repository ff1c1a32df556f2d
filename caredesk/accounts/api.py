"""REST endpoints for accounts (thin: parse, call services, shape the answer)."""

from ninja import Router

router = Router(tags=["accounts"])
