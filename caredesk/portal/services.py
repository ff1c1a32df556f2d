"""The customer portal: request form, magic-link sign-in, rate limits."""

from __future__ import annotations

import hashlib
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from caredesk.assist.redaction import redact_cut
from caredesk.channels.email.transport import queue_mail
from caredesk.core import jobs
from caredesk.core.errors import ValidationFailed

# Rate limiting lives in core; these names stay importable from here.
from caredesk.core.ratelimit import RateLimited, count_attempts, hit_rate_limit  # noqa: F401
from caredesk.customers.models import Customer, IdentityKind
from caredesk.customers.services import find_by_identity, find_or_create_customer
from caredesk.portal.models import MagicLink
from caredesk.tickets.models import Channel, Ticket
from caredesk.tickets.services import Actor, InboundAttachment, create_ticket

logger = logging.getLogger("caredesk.portal")
LINK_MINUTES = 30


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_link(customer: Customer) -> str:
    token = secrets.token_urlsafe(32)
    MagicLink.objects.create(
        customer=customer,
        token_hash=_hash(token),
        expires_at=timezone.now() + timedelta(minutes=LINK_MINUTES),
    )
    return f"{settings.BASE_URL.rstrip('/')}/help/auth/{token}/"


def send_sign_in_link(email: str, *, client_ip: str) -> None:
    """Queue a sign-in link for the address. Says nothing either way, and costs the request the
    same either way: one job row. The job looks the address up and, when it is a customer's,
    writes the link and its mail (an outbox row), so a known address is not told apart from an
    unknown one by the answer or by its time."""
    hit_rate_limit("magic-ip", client_ip, limit=10, window_seconds=600)
    hit_rate_limit("magic-email", email.lower(), limit=3, window_seconds=600)
    with transaction.atomic():
        jobs.enqueue(SIGN_IN_JOB, {"email": email[:320]})


SIGN_IN_JOB = "portal.sign_in_link"


@jobs.job_handler(SIGN_IN_JOB)
def issue_sign_in_link(payload: dict[str, Any]) -> None:
    """The job behind `send_sign_in_link`: a link and its mail for a customer's address."""
    try:
        customer = find_by_identity(IdentityKind.EMAIL, str(payload.get("email", "")))
    except ValidationFailed:
        return
    if customer is None or not customer.email:
        return
    with transaction.atomic():
        link = issue_link(customer)
        queue_mail(
            "sign_in_link",
            customer.email,
            "Your sign-in link",
            f"Hello {customer.name or 'there'},\n\nSign in to see your requests: {link}\n\n"
            f"The link works once and expires in {LINK_MINUTES} minutes. If you did not ask for it, ignore this email.",
            secret=True,
        )


@transaction.atomic
def redeem_link(token: str) -> Customer:
    link = (
        MagicLink.objects.select_for_update()
        .select_related("customer")
        .filter(token_hash=_hash(token))
        .first()
    )
    if link is None or link.used_at is not None or link.expires_at < timezone.now():
        raise ValidationFailed(
            "This sign-in link is invalid, used or expired. Ask for a new one.", code="bad_link"
        )
    link.used_at = timezone.now()
    link.save(update_fields=["used_at"])
    return link.customer


@dataclass
class Submission:
    name: str
    email: str
    subject: str
    body: str
    attachments: list[InboundAttachment]


@transaction.atomic
def submit_request(submission: Submission, *, client_ip: str, session_key: str = "") -> Ticket:
    """A request from the help-centre form becomes a web ticket; the customer gets a link to it.
    The visitor's help-centre searches (their session) are marked as not deflected."""
    hit_rate_limit("form-ip", client_ip, limit=5, window_seconds=600)
    hit_rate_limit("form-email", submission.email.lower(), limit=5, window_seconds=600)
    if not submission.subject.strip() or not submission.body.strip():
        raise ValidationFailed("Please fill in a subject and describe your request.")
    customer, _ = find_or_create_customer(
        IdentityKind.EMAIL, submission.email, name=redact_cut(submission.name, 200)
    )
    ticket = create_ticket(
        Actor.of_customer(customer),
        subject=submission.subject,  # cut to the subject's length, after redaction
        requester=customer,
        body_text=submission.body,
        channel=Channel.WEB,
        attachments=submission.attachments,
    )
    from caredesk.knowledge.services import mark_deflection

    mark_deflection(session_key, created_ticket=True)
    link = issue_link(customer)
    # In the ticket's transaction: sent by a worker after the commit, never inside the request.
    queue_mail(
        "portal_acknowledgement",
        customer.email,
        f"We received your request [#{ticket.pk}]",
        f'Hello {customer.name or "there"},\n\nThank you. Your request #{ticket.pk} ("{ticket.subject}") has been '
        f"received. Follow it and reply here: {link}\n\n(The link works once and expires in {LINK_MINUTES} minutes; "
        "you can always ask for a new one on the sign-in page.)",
        ticket=ticket,
        secret=True,
    )
    return ticket
