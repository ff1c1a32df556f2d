"""SMS domain logic: Twilio's webhooks turned into inbound messages, opt-out keywords, delivery
receipts, and who a reply goes to and from which account.

Threading: one open conversation per customer phone number and Twilio account. The thread key is
"sms:<account id>:<E.164 number>:<conversation>"; a text is added to the number's active ticket
(new, open, pending, on hold) and starts a new ticket once the previous one was solved or closed.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest

from caredesk.channels.sms import signature
from caredesk.channels.sms.models import SmsAccount, SmsOptOut
from caredesk.core import outbox
from caredesk.core.errors import ValidationFailed
from caredesk.customers.models import Identity, IdentityKind
from caredesk.customers.services import normalize_phone
from caredesk.tickets import services as tickets
from caredesk.tickets.models import (
    ACTIVE_STATUSES,
    Channel,
    DeliveryStatus,
    Message,
    RawInbound,
    Ticket,
)

logger = logging.getLogger("caredesk.sms")

# Twilio's default opt-out, opt-in and help keywords (the whole text, any case).
OPT_OUT_KEYWORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
OPT_IN_KEYWORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_KEYWORDS = frozenset({"HELP", "INFO"})
DEFAULT_HELP_TEXT = "You are texting our support team. Reply STOP to opt out, START to opt back in."
MAX_MEDIA = 10

# Twilio's MessageStatus values as caredesk's delivery status (undelivered is a failure).
TWILIO_STATUSES = {
    "accepted": DeliveryStatus.QUEUED,
    "scheduled": DeliveryStatus.QUEUED,
    "queued": DeliveryStatus.QUEUED,
    "sending": DeliveryStatus.QUEUED,
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.READ,
    "failed": DeliveryStatus.FAILED,
    "undelivered": DeliveryStatus.FAILED,
}
# A receipt never moves a message back (Twilio's callbacks can arrive out of order).
_RANK: dict[str, int] = {
    DeliveryStatus.QUEUED: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.READ: 4,
    DeliveryStatus.FAILED: 5,
}


# --- webhooks -------------------------------------------------------------------------------


def webhook_url(path: str) -> str:
    """The public URL of a webhook path, as entered in Twilio (and as Twilio signs it)."""
    return settings.BASE_URL.rstrip("/") + path


def request_params(request: HttpRequest) -> list[tuple[str, str]]:
    return [(name, value) for name in request.POST for value in request.POST.getlist(name)]


def signature_is_valid(account: SmsAccount, request: HttpRequest) -> bool:
    return signature.is_valid(
        account.auth_token,
        webhook_url(request.get_full_path()),
        request_params(request),
        request.headers.get("X-Twilio-Signature", ""),
    )


@dataclass
class Received:
    """What an inbound text did: "ticket" (added to one), "duplicate", "opt_out", "opt_in",
    "help", "quarantined"."""

    outcome: str
    message: Message | None = None


def receive(account: SmsAccount, payload: bytes) -> Received:
    """An inbound webhook's form body (signature already checked): kept raw first, then opt-out
    keywords, then the inbound pipeline. A text that cannot be processed is quarantined."""
    params = dict(parse_qsl(payload.decode("utf-8", errors="replace"), keep_blank_values=True))
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    if not sid or not params.get("From"):
        reason = "A Twilio message needs MessageSid and From."
        tickets.quarantine(Channel.SMS, payload, reason, metadata={"account": account.pk})
        raise ValidationFailed(reason, code="bad_sms")
    existing = tickets.messages_with_external_ids([sid], [Channel.SMS]).first()
    if existing is not None:  # Twilio retried: one message
        return Received("duplicate", existing)
    raw = tickets.store_raw(Channel.SMS, payload, external_id=sid, metadata={"account": account.pk})
    try:
        with transaction.atomic():
            return _process(account, params, raw)
    except Exception as exc:
        logger.exception("SMS %s could not be processed; quarantined", sid)
        tickets.quarantine(Channel.SMS, payload, f"{type(exc).__name__}: {exc}", raw=raw)
        return Received("quarantined")


def _process(account: SmsAccount, params: dict[str, str], raw: RawInbound) -> Received:
    number = normalize_phone(params["From"])
    keyword = params.get("Body", "").strip().upper()
    outcome = "ticket"
    if keyword in OPT_OUT_KEYWORDS:
        SmsOptOut.objects.get_or_create(phone_number=number, defaults={"keyword": keyword})
        outcome = "opt_out"
    elif keyword in OPT_IN_KEYWORDS:
        SmsOptOut.objects.filter(phone_number=number).delete()
        outcome = "opt_in"
    elif keyword in HELP_KEYWORDS:
        outbox.queue(
            Channel.SMS,
            "help",
            recipient=number,
            payload={"body": account.help_text or DEFAULT_HELP_TEXT, "account": account.pk},
        )
        outcome = "help"
    active = _active_conversation(account, number)
    if outcome != "ticket" and not (active.thread_key or active.ticket_id):
        # A keyword opens no ticket; on an open conversation it is shown there.
        RawInbound.objects.filter(pk=raw.pk).update(
            state=RawInbound.State.IGNORED, error=f"SMS keyword {keyword}: {outcome}"
        )
        return Received(outcome)
    inbound = parse_params(account, params)
    inbound.raw_record = raw
    result = tickets.ingest(inbound)
    if not result.duplicate and inbound.metadata.get("media"):
        from caredesk.channels.sms.tasks import fetch_media_task

        message_id = result.message.pk
        transaction.on_commit(lambda: fetch_media_task(message_id))
    return Received(outcome, result.message)


def parse_raw(payload: bytes, metadata: dict[str, Any]) -> tickets.InboundMessage:
    """A stored inbound webhook body as the inbound pipeline takes it (also for reprocessing)."""
    account = SmsAccount.objects.filter(pk=_int(str(metadata.get("account", "")))).first()
    if account is None:
        raise ValidationFailed("The SMS account this text came to no longer exists.")
    params = dict(parse_qsl(payload.decode("utf-8", errors="replace"), keep_blank_values=True))
    return parse_params(account, params)


def parse_params(account: SmsAccount, params: dict[str, str]) -> tickets.InboundMessage:
    number = normalize_phone(params.get("From", ""))
    media = []
    for index in range(min(_int(params.get("NumMedia")), MAX_MEDIA)):
        url = params.get(f"MediaUrl{index}", "")
        if url:
            media.append({"url": url, "content_type": params.get(f"MediaContentType{index}", "")})
    body = params.get("Body", "")
    active = _active_conversation(account, number)
    metadata: dict[str, Any] = {"sms_account": account.pk, "to": params.get("To", "")}
    if media:
        metadata["media"] = media
    return tickets.InboundMessage(
        channel=Channel.SMS,
        sender=tickets.SenderIdentity(kind=IdentityKind.PHONE, value=number),
        subject=_subject(body, number, bool(media)),
        body_text=body,
        external_id=params.get("MessageSid") or params.get("SmsSid") or "",
        thread_key=active.thread_key or _new_thread_key(account, number),
        ticket_hint=active.ticket_id,
        metadata=metadata,
        team=account.team,
    )


def _int(value: str | None) -> int:
    try:
        return max(int(value or 0), 0)
    except ValueError:
        return 0


def _subject(body: str, number: str, has_media: bool) -> str:
    first_line = body.strip().splitlines()[0][:80] if body.strip() else ""
    return first_line or (f"Picture message from {number}" if has_media else f"SMS from {number}")


def _thread_prefix(account: SmsAccount, number: str) -> str:
    return f"sms:{account.pk}:{number}:"


def _new_thread_key(account: SmsAccount, number: str) -> str:
    return _thread_prefix(account, number) + uuid.uuid4().hex[:12]


@dataclass
class ActiveConversation:
    thread_key: str = ""
    # An SMS ticket an agent opened for this customer (it has no thread key): texts go there.
    ticket_id: int | None = None


def _active_conversation(account: SmsAccount, number: str) -> ActiveConversation:
    """The number's active conversation on this account: the thread key of its active ticket, or
    the ticket an agent opened on the SMS channel for the customer, or nothing."""
    identity = Identity.objects.filter(kind=IdentityKind.PHONE, value=number).first()
    if identity is None:
        return ActiveConversation()
    active = (
        Ticket.objects.filter(
            requester_id=identity.customer_id, channel=Channel.SMS, status__in=ACTIVE_STATUSES
        )
        .order_by("-id")
        .values_list("pk", "thread_key")[:20]
    )
    prefix = _thread_prefix(account, number)
    rows = list(active)
    for _, key in rows:
        if key.startswith(prefix):
            return ActiveConversation(thread_key=key)
    unthreaded = next((pk for pk, key in rows if not key), None)
    return ActiveConversation(ticket_id=unthreaded)


# --- delivery receipts ------------------------------------------------------------------------


def record_status(payload: bytes) -> Message | None:
    """A status callback: the message's delivery status, never moved back. Unknown ids are
    logged and ignored (a text sent from Twilio's console, say)."""
    params = dict(parse_qsl(payload.decode("utf-8", errors="replace"), keep_blank_values=True))
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    twilio_status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    status = TWILIO_STATUSES.get(twilio_status)
    if not sid or status is None:
        raise ValidationFailed(
            "A status callback needs MessageSid and a known MessageStatus.", code="bad_status"
        )
    with transaction.atomic():
        message = (
            tickets.messages_with_external_ids([sid], [Channel.SMS])
            .select_related("ticket")
            .select_for_update()
            .first()
        )
        if message is None:
            logger.info("SMS status %s for unknown message %s ignored", twilio_status, sid)
            return None
        if _RANK.get(status, 0) <= _RANK.get(message.delivery_status, 0):
            return message
        error = ""
        if status == DeliveryStatus.FAILED:
            code = params.get("ErrorCode", "")
            error = f"Twilio reports the text {twilio_status}" + (
                f" (error {code})." if code else "."
            )
        tickets.set_delivery_status(message, status, error)
    return message


# --- outbound ---------------------------------------------------------------------------------


def _number_from_thread_key(thread_key: str) -> str:
    parts = thread_key.split(":")
    return parts[2] if len(parts) >= 4 and parts[0] == "sms" else ""


def reply_recipient(message: Message) -> str:
    """A reply goes to the number the conversation is with, else the requester's phone."""
    ticket = message.ticket
    number = _number_from_thread_key(ticket.thread_key)
    if number:
        return number
    requester = ticket.requester
    if requester.phone:
        return str(requester.phone)
    identity = requester.identities.filter(kind=IdentityKind.PHONE).first()
    return identity.value if identity is not None else ""


def account_for_ticket(ticket: Ticket | None) -> SmsAccount | None:
    """The account a conversation came in on, else the first active one."""
    if ticket is not None:
        parts = ticket.thread_key.split(":")
        if len(parts) >= 4 and parts[0] == "sms" and parts[1].isdigit():
            account = SmsAccount.objects.filter(pk=int(parts[1]), active=True).first()
            if account is not None:
                return account
    return SmsAccount.objects.filter(active=True).order_by("id").first()


def opted_out(number: str) -> SmsOptOut | None:
    return SmsOptOut.objects.filter(phone_number=number).first() if number else None


def ticket_opt_out(ticket: Ticket) -> SmsOptOut | None:
    """Whether the customer of an SMS ticket opted out (shown in the composer)."""
    if ticket.channel != Channel.SMS:
        return None
    number = _number_from_thread_key(ticket.thread_key) or str(ticket.requester.phone or "")
    return opted_out(number)
