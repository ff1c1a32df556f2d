"""REST endpoints for customers (thin: parse, call services, shape the answer)."""

from ninja import Router

router = Router(tags=["customers"])
