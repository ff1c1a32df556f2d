"""The email channel: from raw bytes to a threaded ticket message, and agent replies out by mail.

Inbound (SMTP listener, IMAP/POP3 polling and provider webhooks all end here):
raw bytes are stored first (redacted, compressed) so nothing is lost; then parsed, classified
(bounce, auto-reply, bulk, flood), normalised into an InboundMessage and handed to
tickets.services.ingest. Anything that fails is quarantined with its raw bytes and the reason.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email import encoders
from email.mime.base import MIMEBase
from email.utils import formataddr, make_msgid
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.core.mail import EmailMultiAlternatives
from django.core.mail.message import SafeMIMEMultipart
from django.db import DatabaseError, InterfaceError, OperationalError, transaction
from django.db.models.signals import post_delete, post_save
from email_reply_parser import EmailReplyParser

from caredesk.assist.redaction import redact, redact_inbound, redact_mime
from caredesk.channels.email.models import EmailTemplate, Mailbox
from caredesk.channels.email.parser import ParsedEmail, parse
from caredesk.core import jobs, outbox
from caredesk.core.html import sanitize_html
from caredesk.core.prepared import PreparedInQuery
from caredesk.tickets import services as tickets
from caredesk.tickets.models import (
    Channel,
    DeliveryStatus,
    Message,
    RawInbound,
    Ticket,
)

logger = logging.getLogger("caredesk.email")

THREAD_FALLBACK = getattr(settings, "CAREDESK_EMAIL_THREAD_FALLBACK", "sender_subject")
SUBJECT_PREFIX = re.compile(r"^\s*((re|fw|fwd|aw|sv|wg|antw)\s*(\[\d+\])?\s*:\s*)+", re.I)
CID_REF = re.compile(r"""src=(["'])cid:([^"']+)\1""", re.I)


@dataclass
class ReceiveResult:
    outcome: str  # "created" | "threaded" | "duplicate" | "bounce" | "quarantined" | "ignored"
    raw_id: int
    ticket_id: int | None = None
    message_id: int | None = None
    reason: str = ""


# Mailboxes are read for every RCPT and every message; they change rarely. Each process keeps a
# snapshot, dropped when a mailbox is saved or deleted here and at most MAILBOX_CACHE_SECONDS old
# when another process changed it.
MAILBOX_CACHE_SECONDS = 30.0
_mailbox_snapshot: tuple[float, dict[str, Mailbox]] | None = None


def active_mailboxes() -> dict[str, Mailbox]:
    """The active mailboxes by lower-cased address (with their team), from the process snapshot."""
    global _mailbox_snapshot
    snapshot = _mailbox_snapshot
    now = time.monotonic()
    if snapshot is None or now - snapshot[0] > MAILBOX_CACHE_SECONDS:
        boxes = {
            box.address.lower(): box
            for box in Mailbox.objects.filter(active=True).select_related("team")
        }
        snapshot = _mailbox_snapshot = (now, boxes)
    return snapshot[1]


def cached_mailboxes() -> dict[str, Mailbox] | None:
    """The process snapshot when it is fresh, else None (a caller in an event loop then reads the
    database in a thread)."""
    snapshot = _mailbox_snapshot
    if snapshot is None or time.monotonic() - snapshot[0] > MAILBOX_CACHE_SECONDS:
        return None
    return snapshot[1]


def forget_mailboxes(*_: Any, **__: Any) -> None:
    global _mailbox_snapshot
    _mailbox_snapshot = None


post_save.connect(forget_mailboxes, sender=Mailbox, dispatch_uid="email-mailboxes-saved")
post_delete.connect(forget_mailboxes, sender=Mailbox, dispatch_uid="email-mailboxes-deleted")


def support_addresses() -> set[str]:
    return set(active_mailboxes())


def normalized_subject(subject: str) -> str:
    subject = re.sub(r"\[#\d+\]", "", subject or "")
    return " ".join(SUBJECT_PREFIX.sub("", subject).lower().split())[:200]


def _content_hash(raw: bytes) -> str:
    return "<sha256-" + hashlib.sha256(raw).hexdigest()[:40] + "@caredesk>"


def _sender_flooding(address: str) -> bool:
    limit = int(getattr(settings, "CAREDESK_EMAIL_SENDER_RATE", 60))
    key = f"caredesk:email:rate:{hashlib.sha1(address.encode()).hexdigest()}"  # noqa: S324 - a cache key, not security
    cache.add(key, 0, 3600)
    try:
        count = cache.incr(key)
    except ValueError:
        cache.set(key, 1, 3600)
        count = 1
    return count > limit


def _visible_text(parsed: ParsedEmail) -> str:
    text = parsed.text
    if not text.strip():
        return ""
    try:
        visible = EmailReplyParser.parse_reply(text)
    except Exception:  # a parser failure must not lose the mail: keep the full text
        visible = text
    return visible.strip() or text.strip()


def _mailbox_for(recipients: list[str]) -> Mailbox | None:
    boxes = active_mailboxes()
    found = [boxes[r.lower()] for r in recipients if r.lower() in boxes]
    # Several support addresses on one mail: the oldest mailbox, as the database would order them.
    return min(found, key=lambda box: box.pk) if found else None


def to_inbound(parsed: ParsedEmail, raw_id: int, mailbox: Mailbox | None) -> tickets.InboundMessage:
    if not parsed.from_address or "@" not in parsed.from_address:
        raise ValueError("The message has no usable From address.")
    external_id = parsed.message_id or ""
    thread_key = ""
    if THREAD_FALLBACK == "sender_subject" and normalized_subject(parsed.subject):
        thread_key = f"email:{parsed.from_address}:{normalized_subject(parsed.subject)}"[:255]
    remote_images = bool(re.search(r"""<img[^>]+src=["']?https?://""", parsed.html, re.I))
    metadata: dict[str, Any] = {
        "email": {
            "message_id": parsed.message_id,
            "to": parsed.to,
            "date": parsed.headers.get("date"),
            "auto_submitted": parsed.auto_submitted,
            "bulk": parsed.bulk,
        }
    }
    if remote_images:
        metadata["html_with_images"] = sanitize_html(parsed.html, allow_remote_images=True)
    if parsed.text and parsed.text.strip() != _visible_text(parsed):
        metadata["quoted_text_hidden"] = True
    sender_name = parsed.from_name
    if parsed.display_name_address:
        # The name claims another address: the customer is not named after it, and the agent is
        # told on the message (replies go to the real sender, the address in angle brackets).
        sender_name = ""
        metadata["warnings"] = [
            f"The sender's name shows the address {parsed.display_name_address}, but the mail "
            f"came from {parsed.from_address}: replies go to {parsed.from_address}."
        ]
    return tickets.InboundMessage(
        channel=Channel.EMAIL,
        sender=tickets.SenderIdentity("email", parsed.from_address, sender_name),
        subject=re.sub(r"\s*\[#\d+\]", "", parsed.subject).strip() or "(no subject)",
        body_text=_visible_text(parsed),
        body_html=parsed.html,
        external_id=external_id,
        references=[*parsed.in_reply_to, *parsed.references],
        ticket_hint=parsed.ticket_hint,
        thread_key=thread_key,
        attachments=[
            tickets.InboundAttachment(a.filename, a.content_type, a.content, a.content_id, a.inline)
            for a in parsed.attachments
        ],
        cc=[
            tickets.SenderIdentity("email", addr, name)
            for name, addr in parsed.cc
            if addr.lower() not in active_mailboxes()
        ],
        raw_id=raw_id,
        metadata=metadata,
        team=mailbox.team if mailbox else None,
        tags=["auto-reply"] if parsed.auto_submitted or parsed.bulk else [],
    )


def _link_inline_images(message: Message) -> None:
    """cid: references in the HTML point at the stored inline attachments."""
    if "cid:" not in message.body_html:
        return
    by_cid = {a.content_id: a.pk for a in message.attachments.all() if a.content_id}

    def replace(match: re.Match[str]) -> str:
        attachment_id = by_cid.get(match.group(2))
        return f'src="/agent/attachments/{attachment_id}/"' if attachment_id else match.group(0)

    html = CID_REF.sub(replace, message.body_html)
    if html != message.body_html:
        Message.objects.filter(pk=message.pk).update(body_html=html)


def _record_bounce(parsed: ParsedEmail, raw: RawInbound) -> ReceiveResult:
    """A delivery report: mark the bounced reply as failed and put the report on its ticket."""
    original = (
        tickets.messages_with_external_ids([parsed.bounced_message_id], [Channel.EMAIL])
        .select_related("ticket")
        .first()
        if parsed.bounced_message_id
        else None
    )
    if original is None:
        tickets.quarantine(
            Channel.EMAIL, b"", "Delivery report for a message caredesk did not send.", raw=raw
        )
        return ReceiveResult("quarantined", raw.pk, reason="bounce for unknown message")
    with transaction.atomic():
        tickets.set_delivery_status(
            original, DeliveryStatus.FAILED, f"Bounced ({parsed.bounce_status or 'no status'})"
        )
        note = tickets.post_message(
            tickets.Actor.system("mailer"),
            original.ticket,
            internal=True,
            body_text=f"The reply could not be delivered (status {parsed.bounce_status or 'unknown'}). "
            f"The delivery report is attached.",
            attachments=[
                tickets.InboundAttachment("delivery-report.eml", "message/rfc822", raw.payload)
            ],
        )
        RawInbound.objects.filter(pk=raw.pk).update(state=RawInbound.State.PROCESSED)
    return ReceiveResult("bounce", raw.pk, original.ticket_id, note.pk)


@dataclass
class _Arrival:
    """One message of a batch between parsing and processing."""

    raw: bytes
    recipients: list[str]
    parsed: ParsedEmail | None = None
    parse_error: str = ""
    record: RawInbound | None = None
    # The sender's hourly count, once checked (a message is counted once, also when it is taken
    # again one at a time after its batch insert failed).
    flooding: bool | None = None
    # Set when the message can open its ticket in a batch insert (see `_process_all`).
    inbound: tickets.InboundMessage | None = None
    mailbox: Mailbox | None = None
    # Set when the message is a plain reply that can be added with others (`_process_all`).
    reply: tickets.CustomerLine | None = None


def receive(
    raw: bytes, *, recipients: list[str] | None = None, source: str = "smtp"
) -> ReceiveResult:
    """Store, parse, classify and ingest one message. The raw bytes are committed first."""
    return receive_batch([(raw, recipients or [])], source=source)[0]


def receive_batch(
    envelopes: Sequence[tuple[bytes, list[str]]],
    *,
    source: str = "smtp",
    committed: Callable[[list[ReceiveResult]], None] | None = None,
    bulk: bool = True,
) -> list[ReceiveResult]:
    """Store and process several messages with two commits for all of them.

    The raw bytes of every message are committed first, in one transaction; then every message is
    processed in a second transaction, each inside its own savepoint: a message that fails is
    rolled back to its savepoint and quarantined with its raw bytes and the error, and the others
    still commit. Returns one result per envelope, in order; `committed` is called with them
    right after the processing commit, before the receivers of the changes run.

    Raises DatabaseError when the database fails; then no message of the batch has a ticket or a
    message. Raw records the first commit stored are kept, marked ignored ("left to the sender's
    retry"); the retry is stored anew and de-duplicated on Message-ID as always.

    With `bulk` (the default) the messages that open new tickets are written together (see
    `_process_all`); without it every message goes through `ingest` on its own.
    """
    arrivals = [_Arrival(raw, list(recipients)) for raw, recipients in envelopes]
    for arrival in arrivals:
        try:
            arrival.parsed = parse(arrival.raw)
        except Exception as exc:  # kept raw and quarantined below: never lost
            arrival.parse_error = f"Unparseable message: {type(exc).__name__}: {exc}"
            continue
        if not arrival.parsed.message_id:
            arrival.parsed.message_id = _content_hash(redact_mime(arrival.raw))
    with transaction.atomic():
        records = tickets.store_raw_many(
            Channel.EMAIL,
            [
                (
                    a.raw,
                    a.parsed.message_id if a.parsed else "",
                    {"source": source, "recipients": a.recipients},
                )
                for a in arrivals
            ],
        )
    for arrival, record in zip(arrivals, records, strict=True):
        arrival.record = record
    results: list[ReceiveResult] = []
    done = False

    def after_commit() -> None:
        nonlocal done
        done = True
        if committed is not None:
            committed(results)

    try:
        with transaction.atomic():
            # The first callback after commit: the senders are answered before the receivers
            # (routing, SLA, triggers, live updates) of every message have run.
            transaction.on_commit(after_commit)
            known = _known_message_ids(arrivals)
            if bulk:
                results.extend(_process_all(arrivals, known))
            else:
                for arrival in arrivals:
                    results.append(_process_in_savepoint(arrival, known))
    except DatabaseError as exc:
        if not done:  # a receiver failing after the commit takes nothing back
            _mark_unprocessed(records, exc)
        raise
    return results


def _mark_unprocessed(records: list[RawInbound], exc: DatabaseError) -> None:
    """Say on the raw records that their processing was rolled back (the senders are asked to
    retry, and the retry is stored anew), if the database takes the note at all."""
    try:
        RawInbound.objects.filter(pk__in=[r.pk for r in records]).update(
            state=RawInbound.State.IGNORED,
            error=f"Not processed, the database failed ({type(exc).__name__}); left to the "
            "sender's retry."[:10_000],
        )
    except DatabaseError:
        logger.warning("could not mark %d raw records as not processed", len(records))


def _known_message_ids(arrivals: list[_Arrival]) -> dict[str, tuple[int, int]]:
    """Message-IDs of the batch that are already stored: one look-up for the whole batch."""
    wanted = {a.parsed.message_id[:255] for a in arrivals if a.parsed}
    if not wanted:
        return {}
    return {
        external_id: (pk, ticket_id)
        for external_id, pk, ticket_id in _STORED_MESSAGE_IDS.rows(external_ids=sorted(wanted))
    }


# Asked for every batch: the ORM writes the query once per process.
_STORED_MESSAGE_IDS = PreparedInQuery(
    lambda external_ids: (
        tickets.messages_with_external_ids(external_ids, [Channel.EMAIL])
        .order_by()
        .values_list("external_id", "pk", "ticket_id")
    ),
    "external_ids",
    external_ids="\x00message id placeholder\x00",
)


def _process_all(
    arrivals: list[_Arrival], known: dict[str, tuple[int, int]]
) -> list[ReceiveResult]:
    """Process a batch in order, writing runs of consecutive messages that each open a new ticket
    with one statement per table (`tickets.ingest_new_many`, in a savepoint of its own).

    Runs of consecutive plain replies (to a stored thread, from its requester, on a ticket that
    is new, open or on hold: `tickets.plain_replies`) are added the same way
    (`tickets.add_customer_lines`).

    A message joins a run of new tickets when, as far as plain look-ups can tell, `ingest` would
    open a plain new ticket for it: parsed, not a duplicate, a bounce or a loop, not over its
    sender's rate, no CC, attachments or ticket hint, no thread among the stored tickets
    (`find_threads`, one look-up for the batch) and none with an earlier message of the batch
    (same thread key, a reference to it, the same Message-ID). Every other message goes the one-at-a-time way, after
    the run before it is written, so the order of effects is that of the batch. If the run's
    insert fails, its savepoint is rolled back and its messages go the one-at-a-time way too, each
    in its own savepoint: the one that fails is quarantined, the others land."""
    results: list[ReceiveResult | None] = [None] * len(arrivals)
    _prepare_new_tickets(arrivals, known)
    run: list[tuple[int, _Arrival]] = []
    replies = False  # whether the current run is of replies (else of new tickets)

    def write_run() -> None:
        if replies:
            _write_replies(run, known, results)
        else:
            _write_new_tickets(run, known, results)

    for index, arrival in enumerate(arrivals):
        parsed = arrival.parsed
        if (arrival.inbound is not None or arrival.reply is not None) and parsed is not None:
            if parsed.from_address:
                arrival.flooding = _sender_flooding(parsed.from_address)
            if not arrival.flooding:
                if run and replies != (arrival.reply is not None):
                    write_run()
                    run = []
                replies = arrival.reply is not None
                run.append((index, arrival))
                continue
        write_run()
        run = []
        results[index] = _process_in_savepoint(arrival, known)
    write_run()
    assert all(result is not None for result in results)
    return results  # type: ignore[return-value]


def _prepare_new_tickets(arrivals: list[_Arrival], known: dict[str, tuple[int, int]]) -> None:
    """Set `inbound` on the messages of the batch that can open their ticket in a batch insert
    (the checks of `_process` that have no side effect, then the threading look-ups)."""
    own = active_mailboxes()
    earlier_ids: set[str] = set()
    earlier_keys: set[str] = set()
    candidates: list[_Arrival] = []
    reply_only: list[_Arrival] = []
    for arrival in arrivals:
        parsed = arrival.parsed
        if parsed is None:
            continue
        message_id = parsed.message_id[:255]
        eligible = (
            message_id not in known
            and message_id not in earlier_ids
            and not parsed.bounce
            and not (parsed.from_address and parsed.from_address.lower() in own)
        )
        inbound = None
        if eligible:
            mailbox = _mailbox_for(arrival.recipients or parsed.to)
            try:
                inbound = to_inbound(parsed, arrival.record.pk if arrival.record else 0, mailbox)
                # Thread keys are compared below as they are stored: redacted.
                redact_inbound(inbound)
            except Exception:  # quarantined the one-at-a-time way, with its error
                inbound = None
        if (
            inbound is not None
            and not (inbound.cc or inbound.attachments or inbound.ticket_hint)
            and not earlier_ids.intersection(r[:255] for r in inbound.references)
        ):
            inbound.raw_record = arrival.record
            arrival.inbound, arrival.mailbox = inbound, mailbox
            if not (inbound.thread_key and inbound.thread_key in earlier_keys):
                candidates.append(arrival)
            elif inbound.references:
                # Could not open a ticket of its own in the batch (an earlier message has its
                # key), but may be a reply to a stored thread: `ingest` looks at references first.
                reply_only.append(arrival)
            else:
                arrival.inbound = arrival.mailbox = None
        earlier_ids.add(message_id)
        if inbound is not None and inbound.thread_key:
            earlier_keys.add(inbound.thread_key)
        elif parsed.from_address and THREAD_FALLBACK == "sender_subject":
            # A message not turned into an inbound here may still open a ticket with its key.
            earlier_keys.add(
                redact(f"email:{parsed.from_address}:{normalized_subject(parsed.subject)}"[:255])
            )
    threaded = tickets.find_threads([a.inbound for a in candidates if a.inbound is not None])
    on_threads = [a for a, has_thread in zip(candidates, threaded, strict=True) if has_thread]
    on_threads += reply_only
    lines = tickets.plain_replies([a.inbound for a in on_threads if a.inbound is not None])
    for arrival, line in zip(on_threads, lines, strict=True):
        arrival.inbound = arrival.mailbox = None
        arrival.reply = line  # None: `ingest` one at a time (reopen, follow-up, cc, ...)


def _write_new_tickets(
    run: list[tuple[int, _Arrival]],
    known: dict[str, tuple[int, int]],
    results: list[ReceiveResult | None],
) -> None:
    if not run:
        return
    inbounds = [arrival.inbound for _, arrival in run if arrival.inbound is not None]
    try:
        with transaction.atomic():
            created = tickets.ingest_new_many(inbounds)
            acknowledged = []
            for (_, arrival), result in zip(run, created, strict=True):
                _link_inline_images(result.message)
                assert arrival.parsed is not None
                if _wants_acknowledgement(arrival.parsed, arrival.mailbox):
                    acknowledged.append((result.ticket.pk, arrival.parsed.from_address))
            _acknowledge(acknowledged)
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the whole batch is answered "try again"
    except Exception as exc:
        logger.info("%d new tickets taken one at a time: %s: %s", len(run), type(exc).__name__, exc)
        for index, arrival in run:
            results[index] = _process_in_savepoint(arrival, known)
        return
    for (index, arrival), result in zip(run, created, strict=True):
        assert arrival.record is not None and arrival.parsed is not None
        results[index] = ReceiveResult(
            "created", arrival.record.pk, result.ticket.pk, result.message.pk
        )
        known[arrival.parsed.message_id[:255]] = (result.message.pk, result.ticket.pk)


def _write_replies(
    run: list[tuple[int, _Arrival]],
    known: dict[str, tuple[int, int]],
    results: list[ReceiveResult | None],
) -> None:
    """Add a run of plain replies to their tickets together (`tickets.add_customer_lines`, in a
    savepoint). A reply it does not take (its ticket changed meanwhile), or all of them if the
    insert fails, goes the one-at-a-time way, as new tickets do."""
    if not run:
        return
    lines = [arrival.reply for _, arrival in run if arrival.reply is not None]
    try:
        with transaction.atomic():
            stored = tickets.add_customer_lines(lines)
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the whole batch is answered "try again"
    except Exception as exc:
        logger.info("%d replies taken one at a time: %s: %s", len(run), type(exc).__name__, exc)
        stored = [None] * len(run)
    for (index, arrival), line in zip(run, stored, strict=True):
        assert arrival.record is not None and arrival.parsed is not None
        if line is None:
            results[index] = _process_in_savepoint(arrival, known)
            continue
        results[index] = ReceiveResult(
            "threaded", arrival.record.pk, line.ticket_id, line.message_id
        )
        known[arrival.parsed.message_id[:255]] = (line.message_id, line.ticket_id)


def _wants_acknowledgement(parsed: ParsedEmail, mailbox: Mailbox | None) -> bool:
    """A new ticket from a person gets the acknowledgement, unless its mailbox says not to."""
    return not (parsed.auto_submitted or parsed.bulk) and (
        mailbox is None or mailbox.auto_acknowledge
    )


def _acknowledge(new_tickets: list[tuple[int, str]]) -> None:
    """Queue the acknowledgements (ticket id, sender) in the outbox, in the transaction that made
    the tickets."""
    from caredesk.channels.email.transport import acknowledgement

    outbox.queue_many([acknowledgement(ticket_id, sender) for ticket_id, sender in new_tickets])


def _process_in_savepoint(arrival: _Arrival, known: dict[str, tuple[int, int]]) -> ReceiveResult:
    record = arrival.record
    assert record is not None
    if arrival.parsed is None:
        tickets.quarantine(Channel.EMAIL, b"", arrival.parse_error, raw=record)
        return ReceiveResult("quarantined", record.pk, reason="unparseable")
    message_id = arrival.parsed.message_id[:255]
    if message_id in known:
        message_pk, ticket_id = known[message_id]
        RawInbound.objects.filter(pk=record.pk).update(
            state=RawInbound.State.IGNORED, error="duplicate delivery"
        )
        return ReceiveResult("duplicate", record.pk, ticket_id, message_pk)
    try:
        with transaction.atomic():
            result = _process(
                arrival.parsed,
                record,
                arrival.recipients or arrival.parsed.to,
                flooding=arrival.flooding,
            )
    except (OperationalError, InterfaceError):
        raise  # the database is unavailable: the whole batch is answered "try again"
    except Exception as exc:
        logger.warning("email quarantined (raw %s): %s", record.pk, exc)
        tickets.quarantine(Channel.EMAIL, b"", f"{type(exc).__name__}: {exc}", raw=record)
        return ReceiveResult("quarantined", record.pk, reason=str(exc))
    if result.message_id is not None and result.ticket_id is not None:
        # A second copy later in the same batch is a duplicate of this one.
        known[message_id] = (result.message_id, result.ticket_id)
    return result


def _process(
    parsed: ParsedEmail,
    raw_record: RawInbound,
    recipients: list[str],
    *,
    flooding: bool | None = None,
) -> ReceiveResult:
    if parsed.bounce:
        return _record_bounce(parsed, raw_record)
    if parsed.from_address and parsed.from_address.lower() in active_mailboxes():
        tickets.quarantine(
            Channel.EMAIL, b"", "Mail from our own support address (loop).", raw=raw_record
        )
        return ReceiveResult("quarantined", raw_record.pk, reason="loop")
    if parsed.from_address and (
        flooding if flooding is not None else _sender_flooding(parsed.from_address)
    ):
        tickets.quarantine(
            Channel.EMAIL,
            b"",
            f"Rate limit: too many messages from {parsed.from_address} this hour.",
            raw=raw_record,
        )
        return ReceiveResult("quarantined", raw_record.pk, reason="rate limited")
    mailbox = _mailbox_for(recipients)
    try:
        inbound = to_inbound(parsed, raw_record.pk, mailbox)
        inbound.raw_record = raw_record
        result = tickets.ingest(inbound)
    except Exception as exc:
        logger.warning("email quarantined (raw %s): %s", raw_record.pk, exc)
        tickets.quarantine(Channel.EMAIL, b"", f"{type(exc).__name__}: {exc}", raw=raw_record)
        return ReceiveResult("quarantined", raw_record.pk, reason=str(exc))
    if result.duplicate:
        return ReceiveResult("duplicate", raw_record.pk, result.ticket.pk, result.message.pk)
    _link_inline_images(result.message)
    if result.created_ticket and _wants_acknowledgement(parsed, mailbox):
        _acknowledge([(result.ticket.pk, parsed.from_address)])
    return ReceiveResult(
        "created" if result.created_ticket else "threaded",
        raw_record.pk,
        result.ticket.pk,
        result.message.pk,
    )


def parse_raw(payload: bytes, metadata: dict[str, Any]) -> tickets.InboundMessage:
    """A stored raw mail (and the recipients it came for) as the inbound pipeline takes it."""
    parsed = parse(payload)
    if not parsed.message_id:
        parsed.message_id = _content_hash(payload)
    return to_inbound(parsed, 0, _mailbox_for(metadata.get("recipients") or parsed.to))


# --- outbound -------------------------------------------------------------------------------


def mailbox_for_ticket(ticket: Ticket) -> Mailbox | None:
    if ticket.team_id:
        box = Mailbox.objects.filter(team_id=ticket.team_id, active=True).first()
        if box is not None:
            return box
    return Mailbox.objects.filter(active=True).order_by("id").first()


def render_template(
    key: str, ticket: Ticket, default_subject: str, default_body: str
) -> tuple[str, str]:
    template = EmailTemplate.objects.filter(key=key).first()
    subject, body = (
        (template.subject, template.body) if template else (default_subject, default_body)
    )
    values = {
        "ticket_number": ticket.pk,
        "subject": ticket.subject,
        "customer_name": ticket.requester.name or "there",
    }
    try:
        return subject.format(**values), body.format(**values)
    except (KeyError, IndexError, ValueError):
        return default_subject.format(**values), default_body.format(**values)


def _thread_ids(ticket: Ticket, exclude: int = 0) -> list[str]:
    ids = list(
        Message.objects.filter(ticket=ticket, channel=Channel.EMAIL)
        .exclude(external_id="")
        .exclude(pk=exclude)
        .order_by("id")
        .values_list("external_id", flat=True)
    )
    return [i for i in ids if i.startswith("<")][-20:]


def build_email(
    message: Message, *, auto: bool = False, subject: str | None = None, body: str | None = None
) -> ReplyEmail:
    ticket = message.ticket
    mailbox = mailbox_for_ticket(ticket)
    address = mailbox.address if mailbox else settings.DEFAULT_FROM_EMAIL
    from_name = (message.author_agent.name + " via " if message.author_agent else "") + (
        mailbox.name if mailbox and mailbox.name else "Support"
    )
    text = body if body is not None else message.body_text
    signature = (message.author_agent.signature if message.author_agent else "") or (
        mailbox.signature if mailbox else ""
    )
    if signature and not auto:
        text = f"{text}\n\n-- \n{signature}"
    to = [ticket.requester.email] if ticket.requester.email else []
    # A reply from the composer carries its own CC and BCC (reply-all or not); others copy the
    # ticket's CC list.
    chosen = message.metadata if isinstance(message.metadata, dict) else {}
    cc = chosen["cc"] if "cc" in chosen else [c.email for c in ticket.cc.all() if c.email]
    bcc = list(chosen.get("bcc", []))
    references = _thread_ids(ticket, exclude=message.pk)
    domain = address.rsplit("@", 1)[-1]
    message_id = (
        message.external_id if message.external_id.startswith("<") else make_msgid(domain=domain)
    )
    headers = {"Message-ID": message_id, "Reply-To": address, "X-Caredesk-Ticket": str(ticket.pk)}
    if references:
        headers["In-Reply-To"] = references[-1]
        headers["References"] = " ".join(references)
    if auto:
        headers["Auto-Submitted"] = "auto-replied"
    email = ReplyEmail(
        subject=subject or f"Re: {ticket.subject} [#{ticket.pk}]",
        body=text,
        from_email=formataddr((from_name, address)),
        to=to,
        cc=cc,
        bcc=bcc,
        headers=headers,
    )
    if not auto and message.body_html:
        email.attach_alternative(
            message.body_html + (f"<p>-- <br>{signature}</p>" if signature else ""), "text/html"
        )
    for attachment in message.attachments.all():
        with attachment.file.open("rb") as handle:
            content = handle.read()
        # An inline image the HTML shows travels beside the HTML; any other file is attached.
        if (
            email.alternatives
            and attachment.inline
            and attachment.content_id
            and f"cid:{attachment.content_id}" in message.body_html
        ):
            email.related.append(_inline_image(attachment, content))
        else:
            email.attach(attachment.filename, content, attachment.content_type)
    return email


class ReplyEmail(EmailMultiAlternatives):
    """A reply whose HTML shows inline images: the HTML and its images go in one
    multipart/related part (RFC 2387) inside the multipart/alternative, so mail clients resolve
    the `cid:` references and do not list the images as attachments."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.related: list[MIMEBase] = []

    # Django builds the alternative part here (a private method the stubs do not list); only
    # the HTML alternative changes.
    def _create_alternatives(self, msg: Any) -> Any:  # type: ignore[misc]
        if not self.related:
            return super()._create_alternatives(msg)  # type: ignore[misc]
        encoding = self.encoding or settings.DEFAULT_CHARSET
        body = msg
        msg = SafeMIMEMultipart(_subtype="alternative", encoding=encoding)
        if self.body:
            msg.attach(body)
        for content, mimetype in self.alternatives:
            part = self._create_mime_attachment(content, mimetype)  # type: ignore[attr-defined]
            if mimetype == "text/html":
                related = SafeMIMEMultipart(_subtype="related", encoding=encoding)
                related.attach(part)
                for image in self.related:
                    related.attach(image)
                part = related
            msg.attach(part)
        return msg


def _inline_image(attachment: Any, content: bytes) -> MIMEBase:
    """An image part the HTML refers to as `cid:<content id>`."""
    maintype, _, subtype = (attachment.content_type or "image/png").partition("/")
    part = MIMEBase(maintype, subtype or "octet-stream")
    part.set_payload(content)
    encoders.encode_base64(part)
    part["Content-ID"] = f"<{attachment.content_id}>"
    part.add_header("Content-Disposition", "inline", filename=attachment.filename)
    return part


# Jobs queued before the outbox (an upgraded installation) become deliveries.
@jobs.job_handler("email.send")
def _legacy_send_reply(payload: dict[str, Any]) -> None:
    from caredesk.core.models import Delivery

    message = Message.objects.select_related("ticket").filter(pk=payload["message_id"]).first()
    if (
        message is not None
        and message.delivery_status == DeliveryStatus.QUEUED
        and not Delivery.objects.filter(message=message).exists()
    ):
        outbox.queue(Channel.EMAIL, "reply", message=message)


@jobs.job_handler("email.auto_ack")
def _legacy_send_auto_ack(payload: dict[str, Any]) -> None:
    from caredesk.channels.email.transport import acknowledgement

    outbox.queue_many([acknowledgement(payload["ticket_id"])])
