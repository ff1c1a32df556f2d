"""Admin-only privacy endpoints: customer export and erasure, the audit log."""

from __future__ import annotations

import csv
import io
from datetime import datetime

from django.http import HttpRequest, HttpResponse
from ninja import Router, Schema

from caredesk.accounts.api_auth import require_admin
from caredesk.compliance.services import erase_customer, export_customer, search_audit
from caredesk.core.pagination import PageLimit, paginate
from caredesk.customers.services import get_customer

router = Router(tags=["compliance"])


class EraseOut(Schema):
    customer_id: int
    tickets: int
    messages: int
    attachments: int


class AuditEntryOut(Schema):
    id: int
    at: datetime
    actor_id: int | None
    actor_label: str
    action: str
    target_type: str
    target_id: str
    ip_address: str | None
    data: dict


class AuditPage(Schema):
    items: list[AuditEntryOut]
    next: str | None


@router.post("/customers/{customer_id}/export", response={200: None})
def export(request: HttpRequest, customer_id: int) -> HttpResponse:
    """A ZIP archive of everything about the customer (customer.json + attachments)."""
    require_admin(request)
    customer = get_customer(customer_id)
    archive = export_customer(request, customer)
    response = HttpResponse(archive, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="customer-{customer.pk}-export.zip"'
    return response


@router.post("/customers/{customer_id}/erase", response=EraseOut)
def erase(request: HttpRequest, customer_id: int) -> dict[str, int]:
    """Erase the customer's personal data and attachments; tickets stay for statistics."""
    require_admin(request)
    customer = get_customer(customer_id)
    summary = erase_customer(request, customer)
    return {"customer_id": customer.pk, **summary}


@router.get("/audit", response=AuditPage)
def audit_log(
    request: HttpRequest,
    action: str = "",
    actor: str = "",
    target_type: str = "",
    target_id: str = "",
    q: str = "",
    cursor: str | None = None,
    limit: PageLimit = 50,
) -> dict[str, object]:
    require_admin(request)
    qs = search_audit(action=action, actor=actor, target_type=target_type, target_id=target_id, q=q)
    page = paginate(qs, order="-at", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@router.get("/audit/export", response={200: None})
def audit_export(request: HttpRequest, action: str = "", actor: str = "") -> HttpResponse:
    """The (filtered) audit log as CSV."""
    require_admin(request)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["at", "actor", "action", "target_type", "target_id", "ip_address", "data"])
    for entry in search_audit(action=action, actor=actor).iterator():
        writer.writerow(
            [
                entry.at.isoformat(),
                entry.actor_label,
                entry.action,
                entry.target_type,
                entry.target_id,
                entry.ip_address or "",
                entry.data,
            ]
        )
    response = HttpResponse(buffer.getvalue(), content_type="text/csv")
    response["Content-Disposition"] = 'attachment; filename="audit-log.csv"'
    return response
