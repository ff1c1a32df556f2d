"""Search across tickets, customers (and articles once the knowledge base exists).

This is the interface every caller uses; the first implementation is a plain substring match,
to be replaced by the full-text index (SQLite FTS5 / PostgreSQL tsvector) behind the same call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import Q
from django.utils.html import escape

from caredesk.accounts.models import User
from caredesk.customers.models import Customer

MAX_QUERY = 500


@dataclass
class SearchHit:
    type: str  # "ticket" | "customer" | "article"
    id: int
    title: str
    snippet: str  # HTML-safe, matches wrapped in <mark>
    url: str
    score: float = 0.0


def _snippet(text: str, query: str, width: int = 160) -> str:
    lowered = text.lower()
    at = lowered.find(query.lower())
    start = max(0, at - width // 3) if at >= 0 else 0
    piece = text[start : start + width]
    if at < 0:
        return escape(piece)
    rel = at - start
    return (
        escape(piece[:rel])
        + "<mark>"
        + escape(piece[rel : rel + len(query)])
        + "</mark>"
        + escape(piece[rel + len(query) :])
    )


def search(
    query: str,
    *,
    types: Sequence[str] = ("ticket", "customer", "article"),
    agent: User | None = None,
    customer: Customer | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Ranked hits the caller may see: agents see their visible tickets and all customers."""
    from caredesk.tickets.services import customer_tickets, visible_tickets

    query = " ".join((query or "").split())[:MAX_QUERY]
    if not query:
        return []
    hits: list[SearchHit] = []
    if "ticket" in types and (agent is not None or customer is not None):
        base = visible_tickets(agent) if agent is not None else customer_tickets(customer)  # type: ignore[arg-type]
        match = Q(subject__icontains=query) | Q(messages__body_text__icontains=query)
        if query.lstrip("#").isdigit():
            match |= Q(pk=int(query.lstrip("#")))
        for ticket in base.filter(match).distinct().order_by("-updated_at")[:limit]:
            hits.append(
                SearchHit(
                    "ticket",
                    ticket.pk,
                    f"#{ticket.pk} {ticket.subject}",
                    _snippet(ticket.subject, query),
                    f"/agent/tickets/{ticket.pk}/"
                    if agent is not None
                    else f"/help/requests/{ticket.pk}/",
                )
            )
    if "customer" in types and agent is not None:
        match = (
            Q(name__icontains=query)
            | Q(email__icontains=query)
            | Q(phone__icontains=query)
            | Q(identities__value__icontains=query)
        )
        for person in Customer.objects.filter(match).distinct().order_by("name")[:limit]:
            hits.append(
                SearchHit(
                    "customer",
                    person.pk,
                    str(person),
                    _snippet(f"{person.name} {person.email} {person.phone}", query),
                    f"/agent/customers/{person.pk}/",
                )
            )
    return hits[:limit]
