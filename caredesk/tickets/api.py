"""REST endpoints for tickets (thin: parse, call services, shape the answer)."""

from ninja import Router

router = Router(tags=["tickets"])
