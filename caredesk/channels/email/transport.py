"""Email's transport: what the outbox sends on the email channel, and how failures are told apart.

Three kinds of delivery: "reply" (an agent's or bot's public message, composed from it when
sent), "acknowledgement" (a new ticket's auto-reply from the `auto_ack` template) and every
other kind (sign-in links, portal acknowledgements, rule notifications, chat transcripts),
composed when queued (`queue_mail`). Mail goes through Django's email backend
(CAREDESK_EMAIL_BACKEND, SMTP by default) or, in the demo, the local sink (`sink.py`).
"""

from __future__ import annotations

import hashlib
import smtplib
from email.utils import make_msgid
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from caredesk.channels.base import Transport, TransportError
from caredesk.channels.email import services
from caredesk.channels.email.sink import MailSinkBackend, sink_active
from caredesk.core import outbox
from caredesk.core.models import Delivery
from caredesk.tickets import services as tickets
from caredesk.tickets.models import AuthorKind, Channel, EventKind, Message, Ticket

ACK_SUBJECT = "We received your request [#{ticket_number}]"
ACK_BODY = (
    "Hello {customer_name},\n\nThank you for contacting us. Your request #{ticket_number} "
    '("{subject}") has been received and our team will reply soon.\n\n'
    "To add information, just reply to this email."
)


def queue_mail(
    kind: str,
    to: str,
    subject: str,
    body: str,
    *,
    ticket: Ticket | None = None,
    secret: bool = False,
) -> Delivery:
    """Queue a plain-text mail in the current transaction (sent after commit by the outbox).
    `secret`: the body (a sign-in link) is not kept once the mail is sent or given up."""
    domain = settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1]
    payload: dict[str, Any] = {
        "to": [to],
        "subject": subject,
        "body": body,
        # Fixed now, so every try (and a re-send after a crash) carries the same Message-ID.
        "message_id": make_msgid(domain=domain),
    }
    if secret:
        payload["secret_fields"] = ["body"]
    return outbox.queue(Channel.EMAIL, kind, ticket=ticket, recipient=to, payload=payload)


def acknowledgement(ticket_id: int, recipient: str = "") -> Delivery:
    """An unsaved acknowledgement delivery for a new ticket (the caller inserts it)."""
    return Delivery(
        channel=Channel.EMAIL,
        kind="acknowledgement",
        ticket_id=ticket_id,
        recipient=recipient[:320],
    )


def classify(exc: Exception) -> TransportError:
    """A sending error as a TransportError: an SMTP 5xx answer is permanent, anything else
    (4xx, a refused or dropped connection, a timeout) is worth another try."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        answers = list(exc.recipients.values())
        codes = [code for code, _ in answers]
        text = "; ".join(f"{code} {reason.decode(errors='replace')}" for code, reason in answers)
        return TransportError(
            f"Recipient refused: {text}", permanent=all(500 <= c < 600 for c in codes)
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        error = exc.smtp_error
        reason = error.decode(errors="replace") if isinstance(error, bytes) else str(error)
        return TransportError(
            f"The mail server answered {exc.smtp_code} {reason}",
            permanent=500 <= exc.smtp_code < 600,
        )
    try:
        from anymail.exceptions import AnymailRecipientsRefused
    except ImportError:  # pragma: no cover - anymail is a dependency
        AnymailRecipientsRefused = ()  # type: ignore[assignment,misc]  # noqa: N806
    if isinstance(exc, AnymailRecipientsRefused):
        return TransportError(f"Recipient refused: {exc}", permanent=True)
    return TransportError(f"{type(exc).__name__}: {exc}")


class EmailTransport(Transport):
    channel = Channel.EMAIL

    def deliver(self, delivery: Delivery) -> str:
        email = self.compose(delivery)
        if not email.to:
            raise TransportError("The customer has no email address.", permanent=True)
        connection = MailSinkBackend() if sink_active() else get_connection()
        try:
            connection.send_messages([email])
        except Exception as exc:
            raise classify(exc) from exc
        message_id = str(email.extra_headers.get("Message-ID", ""))
        if delivery.kind == "acknowledgement" and delivery.ticket is not None:
            tickets.record_event(
                delivery.ticket,
                EventKind.DELIVERY,
                tickets.Actor.system("mailer"),
                auto_ack=True,
                message_id_header=message_id,
            )
        return message_id

    def compose(self, delivery: Delivery) -> EmailMessage:
        if delivery.kind == "reply" and delivery.message is not None:
            return self._reply(delivery.message)
        if delivery.kind == "acknowledgement" and delivery.ticket is not None:
            return self._acknowledgement(delivery, delivery.ticket.pk)
        payload = delivery.payload
        return EmailMessage(
            subject=payload.get("subject", ""),
            body=payload.get("body", ""),
            from_email=payload.get("from") or None,
            to=list(payload.get("to") or []),
            headers={"Message-ID": payload.get("message_id") or make_msgid()},
        )

    def _reply(self, message: Message) -> EmailMessage:
        message = Message.objects.select_related("ticket__requester", "author_agent").get(
            pk=message.pk
        )
        email = services.build_email(message)
        # Kept before sending: a retry (or a re-send after a crash) reuses this Message-ID.
        Message.objects.filter(pk=message.pk).update(external_id=email.extra_headers["Message-ID"])
        return email

    def _acknowledgement(self, delivery: Delivery, ticket_id: int) -> EmailMessage:
        ticket = Ticket.objects.select_related("requester").get(pk=ticket_id)
        subject, body = services.render_template("auto_ack", ticket, ACK_SUBJECT, ACK_BODY)
        first = ticket.messages.order_by("id").first()
        note = Message(
            ticket=ticket, body_text=body, channel=Channel.EMAIL, author_kind=AuthorKind.SYSTEM
        )
        email = services.build_email(first or note, auto=True, subject=subject, body=body)
        # The acknowledgement's own Message-ID, not the customer's (which build_email would
        # reuse), derived from it so every try carries the same one.
        domain = str(email.extra_headers["Reply-To"]).rsplit("@", 1)[-1]
        if first is not None and first.external_id:
            digest = hashlib.sha256(first.external_id.encode()).hexdigest()[:32]
            message_id = f"<ack.{digest}@{domain}>"
        else:
            message_id = delivery.payload.get("message_id") or make_msgid(domain=domain)
        email.extra_headers["Message-ID"] = message_id
        return email
