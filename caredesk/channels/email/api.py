"""Admin endpoints for the email quarantine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from caredesk.accounts.api_auth import require_admin
from caredesk.core.errors import NotFound
from caredesk.core.pagination import PageLimit, paginate
from caredesk.tickets.models import Channel, RawInbound
from caredesk.tickets.services import reprocess

router = Router(tags=["email"])


class QuarantinedOut(Schema):
    id: int
    external_id: str
    error: str
    size: int
    attempts: int
    received_at: datetime
    source: str

    @staticmethod
    def resolve_source(obj: RawInbound) -> str:
        return str(obj.metadata.get("source", ""))


class QuarantinePage(Schema):
    items: list[QuarantinedOut]
    next: str | None


class ReprocessOut(Schema):
    ticket_id: int
    message_id: int
    created_ticket: bool


@router.get("/quarantine", response=QuarantinePage)
def quarantine(
    request: HttpRequest, cursor: str | None = None, limit: PageLimit = 50
) -> dict[str, Any]:
    """Messages that could not be processed, with the reason; the raw bytes are kept."""
    require_admin(request)
    qs = RawInbound.objects.filter(channel=Channel.EMAIL, state=RawInbound.State.QUARANTINED).defer(
        "payload_compressed"
    )
    page = paginate(qs, order="-received_at", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@router.post("/quarantine/{raw_id}/reprocess", response=ReprocessOut)
def reprocess_message(request: HttpRequest, raw_id: int) -> dict[str, Any]:
    require_admin(request)
    if not RawInbound.objects.filter(pk=raw_id, channel=Channel.EMAIL).exists():
        raise NotFound(f"Quarantined message {raw_id} does not exist.")
    result = reprocess(raw_id)
    return {
        "ticket_id": result.ticket.pk,
        "message_id": result.message.pk,
        "created_ticket": result.created_ticket,
    }
