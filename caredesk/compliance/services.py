"""Privacy and compliance: the audit log, data subject export and erasure, retention."""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone

from caredesk.accounts.models import User
from caredesk.compliance.models import AuditEntry, RetentionAction, RetentionPolicy
from caredesk.core.errors import ValidationFailed
from caredesk.customers.models import Customer
from caredesk.tickets.models import Attachment, Message, RawInbound, Status, Ticket, TicketEvent

ERASED_TEXT = "[erased]"


def _client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def audit(
    who: HttpRequest | User | None,
    action: str,
    *,
    target: Any = None,
    target_type: str = "",
    target_id: str | int = "",
    **data: Any,
) -> AuditEntry:
    """Append one audit entry. `who` is the request (actor and IP from it), an agent, or None."""
    request = who if isinstance(who, HttpRequest) else None
    candidate = getattr(request, "user", None) if request is not None else who
    actor: User | None = (
        candidate if isinstance(candidate, User) and candidate.is_authenticated else None
    )
    if target is not None:
        target_type = target_type or type(target).__name__.lower()
        target_id = target_id or getattr(target, "pk", "")
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=(getattr(actor, "email", "") or data.pop("actor_label", "") or "system")[:320],
        action=action[:64],
        target_type=target_type[:64],
        target_id=str(target_id)[:64],
        ip_address=_client_ip(request),
        data=json.loads(json.dumps(data, cls=DjangoJSONEncoder)),
    )


def search_audit(
    *, action: str = "", actor: str = "", target_type: str = "", target_id: str = "", q: str = ""
) -> QuerySet[AuditEntry]:
    qs = AuditEntry.objects.all()
    if action:
        qs = qs.filter(action__startswith=action)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if target_id:
        qs = qs.filter(target_id=str(target_id))
    if q:
        qs = qs.filter(Q(action__icontains=q) | Q(actor_label__icontains=q) | Q(target_id=q))
    return qs


# --- data subject requests ------------------------------------------------------------------


def _ticket_record(ticket: Ticket) -> dict[str, Any]:
    return {
        "id": ticket.pk,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority_name,
        "channel": ticket.channel,
        "created_at": ticket.created_at,
        "updated_at": ticket.updated_at,
        "messages": [
            {
                "id": m.pk,
                "author_kind": m.author_kind,
                "created_at": m.created_at,
                "channel": m.channel,
                "body_text": m.body_text,
                "body_html": m.body_html,
                "attachments": [f"attachments/{a.pk}-{a.filename}" for a in m.attachments.all()],
            }
            for m in ticket.messages.filter(internal=False).prefetch_related("attachments")
        ],
    }


def export_customer(actor: HttpRequest | User | None, customer: Customer) -> bytes:
    """Everything about a customer as one ZIP archive: customer.json plus their attachments."""
    tickets = list(
        Ticket.objects.filter(Q(requester=customer) | Q(cc=customer)).distinct().order_by("id")
    )
    document = {
        "exported_at": timezone.now(),
        "customer": {
            "id": customer.pk,
            "name": customer.name,
            "email": customer.email,
            "phone": customer.phone,
            "language": customer.language,
            "vip": customer.vip,
            "notes": customer.notes,
            "custom_fields": customer.custom_fields,
            "organization": customer.organization.name if customer.organization else None,
            "created_at": customer.created_at,
            "identities": [{"kind": i.kind, "value": i.value} for i in customer.identities.all()],
        },
        "tickets": [_ticket_record(t) for t in tickets],
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "customer.json",
            json.dumps(document, cls=DjangoJSONEncoder, indent=2, ensure_ascii=False),
        )
        for attachment in Attachment.objects.filter(
            message__ticket__in=tickets, message__internal=False
        ):
            try:
                with attachment.file.open("rb") as handle:
                    archive.writestr(
                        f"attachments/{attachment.pk}-{attachment.filename}", handle.read()
                    )
            except FileNotFoundError:
                continue
    audit(actor, "customer.exported", target=customer, tickets=len(tickets))
    return buffer.getvalue()


def _delete_attachment_files(attachments: QuerySet[Attachment]) -> int:
    count = 0
    for attachment in attachments:
        attachment.file.delete(save=False)
        count += 1
    attachments.delete()
    return count


def _scrub_tickets(tickets: QuerySet[Ticket], label: str) -> dict[str, int]:
    ticket_ids = list(tickets.values_list("id", flat=True))
    messages = Message.objects.filter(ticket_id__in=ticket_ids)
    raw_ids = list(messages.exclude(raw=None).values_list("raw_id", flat=True))
    removed_files = _delete_attachment_files(
        Attachment.objects.filter(message__ticket_id__in=ticket_ids)
    )
    scrubbed = messages.update(
        body_text=ERASED_TEXT, body_html=f"<p>{ERASED_TEXT}</p>", metadata={}, raw=None
    )
    RawInbound.objects.filter(pk__in=raw_ids).delete()
    Ticket.objects.filter(pk__in=ticket_ids).update(subject=label, custom_fields={}, thread_key="")
    # The event log is append-only, except that personal data in it is scrubbed on erasure.
    TicketEvent.objects.filter(ticket_id__in=ticket_ids, data__has_key="subject").update(
        data={"subject": label}
    )
    _reindex(ticket_ids)
    return {"tickets": len(ticket_ids), "messages": scrubbed, "attachments": removed_files}


def _reindex(ticket_ids: list[int]) -> None:
    """Scrubbed text must leave the search index too (bulk updates skip the services)."""
    from caredesk.search.services import index_ticket

    for ticket_id in ticket_ids:
        index_ticket(ticket_id)


@transaction.atomic
def erase_customer(actor: HttpRequest | User | None, customer: Customer) -> dict[str, int]:
    """Anonymise a customer: personal data and attachments gone, tickets kept for statistics."""
    if customer.anonymized_at is not None:
        raise ValidationFailed(f"Customer {customer.pk} was already erased.", code="already_erased")
    summary = _scrub_tickets(Ticket.objects.filter(requester=customer), "Erased request")
    # Their messages on other people's tickets (as CC) are scrubbed too.
    foreign = Message.objects.filter(author_customer=customer).exclude(ticket__requester=customer)
    foreign_tickets = sorted(set(foreign.values_list("ticket_id", flat=True)))
    summary["messages"] += foreign.update(
        body_text=ERASED_TEXT, body_html=f"<p>{ERASED_TEXT}</p>", metadata={}
    )
    _reindex(foreign_tickets)
    customer.cc_tickets.clear()
    customer.identities.all().delete()
    customer.name = f"Erased customer {customer.pk}"
    customer.email = ""
    customer.phone = ""
    customer.notes = ""
    customer.custom_fields = {}
    customer.language = ""
    customer.anonymized_at = timezone.now()
    customer.save()
    from caredesk.search.services import index_customer

    index_customer(customer)
    audit(actor, "customer.erased", target=customer, summary=summary)
    return summary


# --- retention ------------------------------------------------------------------------------


@dataclass
class RetentionReport:
    dry_run: bool
    policies: list[dict[str, Any]] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p["tickets"] for p in self.policies)


def _expired(policy: RetentionPolicy) -> QuerySet[Ticket]:
    cutoff = timezone.now() - timedelta(days=policy.days)
    qs = Ticket.objects.filter(status__in=[Status.SOLVED, Status.CLOSED]).filter(
        Q(closed_at__lt=cutoff) | Q(closed_at__isnull=True, solved_at__lt=cutoff)
    )
    if policy.team_id:
        qs = qs.filter(team_id=policy.team_id)
    if policy.channel:
        qs = qs.filter(channel=policy.channel)
    if policy.action == RetentionAction.ANONYMIZE:
        qs = qs.exclude(subject="Expired ticket")
    return qs


def apply_retention(*, dry_run: bool = False) -> RetentionReport:
    """Apply every active policy; with dry_run, only report what would happen."""
    report = RetentionReport(dry_run=dry_run)
    for policy in RetentionPolicy.objects.filter(active=True).order_by("id"):
        expired = _expired(policy)
        count = expired.count()
        attachments = Attachment.objects.filter(message__ticket__in=expired).count()
        report.policies.append(
            {
                "policy": policy.name,
                "action": policy.action,
                "tickets": count,
                "attachments": attachments,
            }
        )
        if dry_run or not count:
            continue
        with transaction.atomic():
            if policy.action == RetentionAction.DELETE:
                ids = list(expired.values_list("id", flat=True))
                _delete_attachment_files(Attachment.objects.filter(message__ticket_id__in=ids))
                raw_ids = list(
                    Message.objects.filter(ticket_id__in=ids)
                    .exclude(raw=None)
                    .values_list("raw_id", flat=True)
                )
                Ticket.objects.filter(merged_into_id__in=ids).update(merged_into=None)
                Ticket.objects.filter(pk__in=ids).delete()
                RawInbound.objects.filter(pk__in=raw_ids).delete()
            else:
                _scrub_tickets(expired, "Expired ticket")
            audit(
                None,
                "retention.applied",
                target_type="retentionpolicy",
                target_id=policy.pk,
                action_taken=policy.action,
                tickets=count,
                attachments=attachments,
            )
    return report
