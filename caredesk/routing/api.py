"""Flow endpoints: escalate, next ticket (pull), macros and canned responses, SLA state."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema

from caredesk.accounts.models import Team
from caredesk.automation import services as automation
from caredesk.automation.models import CannedResponse, Macro
from caredesk.core.errors import NotFound, ValidationFailed
from caredesk.routing import services as routing
from caredesk.sla.models import TicketSla
from caredesk.tickets.schemas import TicketOut
from caredesk.tickets.services import access_ticket

router = Router(tags=["routing, SLA and automation"])


class EscalateIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)
    team: int | None = None
    tier: str = Field("", max_length=10)


class MacroOut(Schema):
    id: int
    name: str
    reply: str
    internal: bool
    changes: dict[str, Any]
    shared: bool

    @staticmethod
    def resolve_shared(obj: Macro) -> bool:
        return obj.owner_id is None


class SnippetOut(Schema):
    shortcut: str
    title: str
    body: str


class SlaOut(Schema):
    policy: str | None
    first_response_due: datetime | None
    next_response_due: datetime | None
    resolution_due: datetime | None
    next_due: datetime | None
    paused: bool
    breached: bool
    breaches: list[str]


@router.post("/tickets/{ticket_id}/escalate", response=TicketOut)
def escalate(request: HttpRequest, ticket_id: int, payload: EscalateIn) -> Any:
    ticket = access_ticket(request.user, ticket_id)  # type: ignore[arg-type]
    team = None
    if payload.team is not None:
        team = Team.objects.filter(pk=payload.team).first()
        if team is None:
            raise ValidationFailed(f"Team {payload.team} does not exist.", code="unknown_team")
    return routing.escalate(
        request.user, ticket, reason=payload.reason, to_team=team, to_tier=payload.tier
    )  # type: ignore[arg-type]


@router.post("/routing/next", response={200: TicketOut, 204: None})
def next_ticket(request: HttpRequest) -> Any:
    """Pull mode: hands you the highest-priority unassigned ticket you are qualified for."""
    ticket = routing.next_ticket(request.user)  # type: ignore[arg-type]
    return (200, ticket) if ticket is not None else (204, None)


@router.get("/macros", response=list[MacroOut])
def macros(request: HttpRequest) -> list[Macro]:
    return automation.macros_for(request.user)  # type: ignore[arg-type]


@router.post("/tickets/{ticket_id}/macros/{macro_id}/apply", response=TicketOut)
def apply_macro(request: HttpRequest, ticket_id: int, macro_id: int) -> Any:
    ticket = access_ticket(request.user, ticket_id)  # type: ignore[arg-type]
    macro = Macro.objects.filter(pk=macro_id).first()
    if macro is None:
        raise NotFound(f"Macro {macro_id} does not exist.")
    return automation.apply_macro(request.user, ticket, macro)  # type: ignore[arg-type]


@router.get("/snippets", response=list[SnippetOut])
def snippets(request: HttpRequest) -> Any:
    from django.db.models import Q

    return CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner=request.user))


@router.get("/tickets/{ticket_id}/sla", response={200: SlaOut, 204: None})
def ticket_sla(request: HttpRequest, ticket_id: int) -> Any:
    ticket = access_ticket(request.user, ticket_id)  # type: ignore[arg-type]
    clock = TicketSla.objects.select_related("policy").filter(ticket=ticket).first()
    if clock is None:
        return 204, None
    return 200, {
        "policy": clock.policy.name if clock.policy else None,
        "first_response_due": clock.first_response_due,
        "next_response_due": clock.next_response_due,
        "resolution_due": clock.resolution_due,
        "next_due": clock.next_due,
        "paused": clock.paused_since is not None,
        "breached": clock.breached,
        "breaches": clock.breaches,
    }
