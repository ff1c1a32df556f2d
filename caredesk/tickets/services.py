"""Ticket domain logic. Every change to a ticket goes through a function here, in a transaction,
and leaves a TicketEvent. The API, the UI, every channel and every job call these functions.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ParamSpec

from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, NotSupportedError, connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from caredesk.accounts.models import Role, Team, User
from caredesk.assist.redaction import (
    redact,
    redact_attachment,
    redact_cut,
    redact_inbound,
    redact_raw,
)
from caredesk.channels.base import adapter_for, delivers_replies
from caredesk.core import outbox
from caredesk.core.bulk import insert_rows, update_by_ids
from caredesk.core.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    ValidationFailed,
)
from caredesk.core.html import html_to_text, sanitize_html, text_to_html
from caredesk.core.prepared import PreparedInQuery, PreparedQuery
from caredesk.customers.models import Customer, Identity
from caredesk.customers.services import find_or_create_customer, normalize_identity
from caredesk.search import services as search

# The visibility rule lives in tickets.access; these names stay importable from here.
from caredesk.tickets.access import (  # noqa: F401
    access_ticket,
    access_ticket_as_customer,
    can_see,
    customer_tickets,
    visible_tickets,
)
from caredesk.tickets.changes import TicketChange, announce_on_commit
from caredesk.tickets.models import (
    ACTIVE_STATUSES,
    ALLOWED_TRANSITIONS,
    Attachment,
    AuthorKind,
    Channel,
    CustomField,
    DeliveryStatus,
    EventKind,
    FieldType,
    LinkKind,
    Message,
    Priority,
    RawInbound,
    Status,
    Tag,
    Ticket,
    TicketEvent,
    TicketLink,
)

MAX_SUBJECT = 255

MAX_BODY = 1_000_000

P = ParamSpec("P")


# --- actors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Actor:
    """Who makes a change: an agent, a customer, a bot or the system."""

    kind: str
    agent: User | None = None
    customer: Customer | None = None
    name: str = ""

    @classmethod
    def of_agent(cls, agent: User) -> Actor:
        return cls(kind=AuthorKind.AGENT, agent=agent)

    @classmethod
    def of_customer(cls, customer: Customer) -> Actor:
        return cls(kind=AuthorKind.CUSTOMER, customer=customer)

    @classmethod
    def system(cls, name: str = "system") -> Actor:
        return cls(kind=AuthorKind.SYSTEM, name=name)

    @classmethod
    def bot(cls, name: str = "bot") -> Actor:
        return cls(kind=AuthorKind.BOT, name=name)


def as_actor(who: User | Actor) -> Actor:
    return who if isinstance(who, Actor) else Actor.of_agent(who)


# --- inbound --------------------------------------------------------------------------------


@dataclass
class InboundAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    inline: bool = False


@dataclass
class SenderIdentity:
    kind: str
    value: str
    name: str = ""


@dataclass
class InboundMessage:
    """A message from any channel, normalised by its adapter before `ingest`."""

    channel: str
    sender: SenderIdentity
    body_text: str = ""
    body_html: str = ""
    subject: str = ""
    external_id: str = ""
    references: list[str] = field(default_factory=list)
    ticket_hint: int | None = None
    thread_key: str = ""
    attachments: list[InboundAttachment] = field(default_factory=list)
    cc: list[SenderIdentity] = field(default_factory=list)
    raw: bytes = b""
    raw_id: int | None = None
    # The stored raw record itself, when the channel has it at hand (spares a look-up by raw_id).
    raw_record: RawInbound | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    author_kind: str = AuthorKind.CUSTOMER
    priority: int | None = None
    team: Team | None = None
    tags: list[str] = field(default_factory=list)
    # Set by `redact_inbound`, which every entry of the inbound pipeline calls first.
    redacted: bool = False


@dataclass
class IngestResult:
    ticket: Ticket
    message: Message
    created_ticket: bool
    duplicate: bool = False


# --- visibility -----------------------------------------------------------------------------

# The one visibility rule and its helpers live in tickets.access (imported above, re-exported).

# --- events ---------------------------------------------------------------------------------


_AUDIENCE_FIELDS = frozenset(
    {"team", "team_id", "assignee", "assignee_id", "restricted", "channel"}
)


class _EventBatch:
    """Collects the events of one service call: written together (one INSERT) by `announce`, at
    the end of the call and still inside its transaction, and announced together after commit."""

    def __init__(self, ticket: Ticket, actor: Actor) -> None:
        self.ticket = ticket
        self.actor = actor
        self.events: list[TicketEvent] = []

    def add(self, kind: str, **data: Any) -> TicketEvent:
        event = TicketEvent(
            ticket=self.ticket,
            kind=kind,
            actor_kind=self.actor.kind,
            actor_agent=self.actor.agent,
            actor_customer=self.actor.customer,
            data=data,
        )
        self.events.append(event)
        return event

    def announce(self) -> None:
        if not self.events:
            return
        TicketEvent.objects.bulk_create(self.events)
        ticket = self.ticket
        announce_on_commit(
            [
                TicketChange(
                    ticket.pk,
                    [e.pk for e in self.events],
                    [e.kind for e in self.events],
                    [e.data for e in self.events],
                    actor_kind=self.actor.kind,
                    channel=ticket.channel,
                    # The ticket as the change left it: who may see it, without a read (unless
                    # the caller loaded the ticket without those fields).
                    fields=None
                    if _AUDIENCE_FIELDS & ticket.get_deferred_fields()
                    else {
                        "team_id": ticket.team_id,
                        "assignee_id": ticket.assignee_id,
                        "restricted": ticket.restricted,
                        "channel": ticket.channel,
                    },
                )
            ]
        )


def record_event(ticket: Ticket, kind: str, actor: Actor, **data: Any) -> TicketEvent:
    """Record one event (for other apps: SLA, escalation, delivery) and announce it on commit."""
    batch = _EventBatch(ticket, actor)
    event = batch.add(kind, **data)
    batch.announce()
    return event


def _touch(ticket: Ticket, fields: Iterable[str]) -> None:
    """Save changed fields, bump the version and updated_at, in one UPDATE (which also takes the
    ticket's row lock for the rest of the transaction)."""
    ticket.updated_at = timezone.now()
    changed = {name: getattr(ticket, name) for name in fields}
    Ticket.objects.filter(pk=ticket.pk).update(
        version=F("version") + 1, updated_at=ticket.updated_at, **changed
    )
    ticket.version += 1


# --- attachments ----------------------------------------------------------------------------


def check_attachment(filename: str, size: int) -> None:
    if size > settings.CAREDESK_MAX_ATTACHMENT_BYTES:
        limit_mb = settings.CAREDESK_MAX_ATTACHMENT_BYTES // (1024 * 1024)
        raise PayloadTooLarge(
            f"{filename} is larger than the {limit_mb} MB attachment limit.",
            code="attachment_too_large",
        )
    extension = os.path.splitext(filename or "")[1].lower()
    if extension in settings.CAREDESK_BLOCKED_ATTACHMENT_EXTENSIONS:
        raise ValidationFailed(
            f"Files of type {extension} are not accepted.", code="attachment_type"
        )


def _clean_filename(filename: str) -> str:
    """The name shown and offered on download (up to 255 characters, its extension kept)."""
    name = os.path.basename((filename or "attachment").replace("\\", "/")).strip() or "attachment"
    name = "".join(ch for ch in name if ch.isprintable())
    if len(name) > 255:
        stem, extension = os.path.splitext(name)
        extension = extension if len(extension) <= 16 else ""
        name = stem[: 255 - len(extension)] + extension
    return name


def _storage_name(digest: str, filename: str) -> str:
    """The file's name on disk: generated, never the sender's. Real names (a court letter's runs
    past 100 characters, with a dozen dots) broke the path limit and reached the storage layer
    as a path; only a short plain extension is kept, so served files keep their type."""
    extension = os.path.splitext(filename)[1].lower()
    if not (1 < len(extension) <= 10 and extension[1:].isascii() and extension[1:].isalnum()):
        extension = ""
    return f"{digest[:32]}{extension}"


def store_attachment(message: Message | None, upload: InboundAttachment) -> Attachment:
    """Write an attachment, its name and (when it is text) its content redacted."""
    filename, content = redact_attachment(
        _clean_filename(upload.filename), upload.content_type, upload.content
    )
    check_attachment(filename, len(content))
    digest = hashlib.sha256(content).hexdigest()
    attachment = Attachment(
        message=message,
        filename=filename,
        content_type=(upload.content_type or "application/octet-stream")[:100],
        size=len(content),
        sha256=digest,
        content_id=upload.content_id[:255],
        inline=upload.inline,
    )
    attachment.file.save(_storage_name(digest, filename), ContentFile(content), save=False)
    attachment.save()
    return attachment


# --- creation and ingestion -----------------------------------------------------------------


def _clean_subject(subject: str, body_text: str) -> str:
    subject = " ".join((subject or "").split())
    if not subject:
        subject = " ".join(body_text.split())[:80] or "(no subject)"
    return redact_cut(subject, MAX_SUBJECT)


def _bodies(body_text: str, body_html: str) -> tuple[str, str]:
    if len(body_text or "") > MAX_BODY or len(body_html or "") > MAX_BODY:
        raise PayloadTooLarge(
            "The message body is larger than 1,000,000 characters.", code="body_too_large"
        )
    # Redacted after sanitizing: removing an element can bring the groups of a number together.
    safe_html = redact(sanitize_html(body_html)) if body_html else ""
    text = redact(body_text) if body_text else html_to_text(safe_html)
    if not safe_html and text:
        safe_html = text_to_html(text)
    return text, safe_html


def _clean_tags(names: Iterable[str]) -> list[str]:
    return sorted({n.strip().lower()[:64] for n in names if n and n.strip()})


def _tags_named(cleaned: list[str]) -> list[Tag]:
    """The tags with these names, created if new (safe against a concurrent insert)."""
    found = {tag.name: tag for tag in Tag.objects.filter(name__in=cleaned)}
    missing = [name for name in cleaned if name not in found]
    if missing:
        Tag.objects.bulk_create([Tag(name=name) for name in missing], ignore_conflicts=True)
        found.update((tag.name, tag) for tag in Tag.objects.filter(name__in=missing))
    return [found[name] for name in cleaned]


def _set_tags(ticket: Ticket, names: Iterable[str]) -> list[str]:
    cleaned = _clean_tags(names)
    ticket.tags.set(_tags_named(cleaned))
    return cleaned


def _tag_new_ticket(ticket: Ticket, names: Iterable[str]) -> list[str]:
    """Tags of a ticket created in this transaction: nothing to compare with, one INSERT."""
    cleaned = _clean_tags(names)
    through = Ticket.tags.through
    through.objects.bulk_create(
        [through(ticket_id=ticket.pk, tag_id=tag.pk) for tag in _tags_named(cleaned)]
    )
    return cleaned


def validate_custom_fields(values: dict[str, Any]) -> dict[str, Any]:
    """Check values against the admin-defined fields; unknown keys and wrong types are refused."""
    if not values:
        return {}
    definitions = {f.key: f for f in CustomField.objects.filter(active=True, key__in=list(values))}
    cleaned: dict[str, Any] = {}
    for key, value in values.items():
        definition = definitions.get(key)
        if definition is None:
            raise ValidationFailed(f"Unknown custom field {key!r}.", code="unknown_field")
        if value is None:
            cleaned[key] = None
            continue
        kind = definition.field_type
        ok = (
            (kind == FieldType.TEXT and isinstance(value, str) and len(value) <= 10_000)
            or (
                kind == FieldType.NUMBER
                and isinstance(value, int | float)
                and not isinstance(value, bool)
            )
            or (kind == FieldType.BOOLEAN and isinstance(value, bool))
            or (kind == FieldType.CHOICE and value in definition.choices)
        )
        if kind == FieldType.DATE and isinstance(value, str):
            try:
                datetime.strptime(value, "%Y-%m-%d")  # noqa: DTZ007 - a calendar date, no time zone
                ok = True
            except ValueError:
                ok = False
        if not ok:
            raise ValidationFailed(
                f"Custom field {key!r} expects a {kind} value.", code="bad_field_value"
            )
        cleaned[key] = redact(value) if kind == FieldType.TEXT else value
    return cleaned


def _open_ticket(
    actor: User | Actor,
    *,
    subject: str,
    requester: Customer,
    body_text: str = "",
    body_html: str = "",
    channel: str = Channel.API,
    priority: int = Priority.NORMAL,
    team: Team | None = None,
    assignee: User | None = None,
    tags: Iterable[str] = (),
    custom_fields: dict[str, Any] | None = None,
    category: str = "",
    language: str = "",
    attachments: Iterable[InboundAttachment] = (),
    author_kind: str | None = None,
    external_id: str = "",
    thread_key: str = "",
    raw: RawInbound | None = None,
    metadata: dict[str, Any] | None = None,
    always_message: bool = False,
) -> tuple[Ticket, Message | None]:
    """Open a ticket with its first message (written by the requester unless author_kind says so),
    in the caller's transaction; returns the ticket and that message.

    Without text or attachments there is no first message, unless always_message (an inbound
    message with an empty body is still a message). `create_ticket` is this in a transaction of
    its own, returning the ticket alone."""
    who = as_actor(actor)
    if channel not in Channel.values:
        raise ValidationFailed(f"Unknown channel {channel!r}.", code="bad_channel")
    if priority not in Priority.values:
        raise ValidationFailed("Unknown priority.", code="bad_priority")
    text, html = _bodies(body_text, body_html)
    attachments = list(attachments)
    for upload in attachments:
        check_attachment(_clean_filename(upload.filename), len(upload.content))
    fields = validate_custom_fields(custom_fields or {})
    ticket = Ticket.objects.create(
        subject=_clean_subject(subject, text),
        status=Status.NEW,
        priority=priority,
        channel=channel,
        requester=requester,
        organization_id=requester.organization_id,
        team=team,
        custom_fields=fields,
        category=category[:100],
        language=language[:10] or requester.language,
        thread_key=thread_key[:255],
    )
    batch = _EventBatch(ticket, who)
    batch.add(
        EventKind.CREATED,
        channel=channel,
        subject=ticket.subject,
        priority=Priority(priority).label,
        team=team.pk if team else None,
    )
    tag_names = _tag_new_ticket(ticket, tags) if tags else []
    if tag_names:
        batch.add(EventKind.TAGS_CHANGED, added=tag_names, removed=[])
    message = None
    if text or html or attachments or always_message:
        kind = author_kind or (
            AuthorKind.CUSTOMER if who.kind != AuthorKind.AGENT else AuthorKind.CUSTOMER
        )
        message = Message.objects.create(
            ticket=ticket,
            author_kind=kind,
            author_customer=requester if kind == AuthorKind.CUSTOMER else None,
            author_agent=who.agent if kind == AuthorKind.AGENT else None,
            body_text=text,
            body_html=html,
            channel=channel,
            external_id=external_id[:255],
            delivery_status=DeliveryStatus.RECEIVED
            if kind == AuthorKind.CUSTOMER
            else DeliveryStatus.NONE,
            raw=raw,
            metadata=metadata or {},
        )
        for upload in attachments:
            store_attachment(message, upload)
        if kind == AuthorKind.CUSTOMER:
            ticket.last_customer_message_at = message.created_at
            ticket.save(update_fields=["last_customer_message_at"])
        batch.add(EventKind.MESSAGE_ADDED, message_id=message.pk, author_kind=kind, internal=False)
    if assignee is not None:
        assigned_fields = _assign(ticket, assignee, batch)
        if assigned_fields:
            ticket.save(update_fields=assigned_fields)
    search.add_ticket(
        ticket.pk,
        title=ticket.subject,
        body=message.body_text if message is not None else "",
        language=ticket.language,
    )
    batch.announce()
    return ticket, message


# Parsers that can turn a stored raw payload back into an InboundMessage (for re-processing).


def _ticket_only(
    open_ticket: Callable[P, tuple[Ticket, Message | None]], name: str
) -> Callable[P, Ticket]:
    """The same call (signature and docs) for callers that need only the ticket."""

    @functools.wraps(open_ticket)
    def ticket_only(*args: P.args, **kwargs: P.kwargs) -> Ticket:
        return open_ticket(*args, **kwargs)[0]

    ticket_only.__name__ = ticket_only.__qualname__ = name
    return ticket_only


# Open a ticket with its first message, in a transaction of its own (see `_open_ticket`).
create_ticket = transaction.atomic(_ticket_only(_open_ticket, "create_ticket"))


def store_raw(
    channel: str, payload: bytes, *, external_id: str = "", metadata: dict[str, Any] | None = None
) -> RawInbound:
    """Keep an inbound payload (redacted of card numbers, compressed) before anything else."""
    clean = redact_raw(channel, payload)
    return RawInbound.objects.create(
        channel=channel,
        external_id=external_id[:255],
        payload_compressed=RawInbound.compress(clean),
        size=len(clean),
        metadata=metadata or {},
    )


def store_raw_many(
    channel: str, payloads: list[tuple[bytes, str, dict[str, Any]]]
) -> list[RawInbound]:
    """`store_raw` for several payloads (payload, external id, metadata) in one INSERT: a channel
    that receives in batches commits the raw bytes of a whole batch together."""
    now = timezone.now()
    records = []
    for payload, external_id, metadata in payloads:
        clean = redact_raw(channel, payload)
        records.append(
            RawInbound(
                channel=channel,
                external_id=external_id[:255],
                payload_compressed=RawInbound.compress(clean),
                size=len(clean),
                metadata=metadata,
                received_at=now,
            )
        )
    fields = ("channel", "external_id", "payload_compressed", "size", "metadata", "received_at")
    try:
        ids = insert_rows(RawInbound, [{f: getattr(r, f) for f in fields} for r in records], now)
    except NotSupportedError:
        return RawInbound.objects.bulk_create(records)
    for record, pk in zip(records, ids, strict=True):
        record.pk = pk
        record._state.adding = False
        record._state.db = connection.alias
    return records


def quarantine(
    channel: str,
    payload: bytes,
    error: str,
    *,
    raw: RawInbound | None = None,
    external_id: str = "",
    metadata: dict[str, Any] | None = None,
) -> RawInbound:
    """Keep a payload that could not be processed, with the reason: never dropped."""
    if raw is None:
        raw = store_raw(channel, payload, external_id=external_id, metadata=metadata)
    raw.state = RawInbound.State.QUARANTINED
    raw.error = redact(error[:10_000])
    raw.save(update_fields=["state", "error"])
    return raw


def reprocess(raw_id: int) -> IngestResult:
    """Run a quarantined payload through its channel's parser and `ingest` again."""
    raw = RawInbound.objects.filter(pk=raw_id).first()
    if raw is None:
        raise NotFound(f"Inbound payload {raw_id} does not exist.")
    adapter = adapter_for(raw.channel)
    parser = adapter.parse_raw if adapter is not None else None
    if parser is None:
        raise ValidationFailed(f"No parser is registered for the {raw.channel} channel.")
    RawInbound.objects.filter(pk=raw.pk).update(attempts=F("attempts") + 1)
    try:
        inbound = parser(raw.payload, raw.metadata)
        inbound.raw_id = raw.pk
        result = ingest(inbound)
    except Exception as exc:  # the error is kept on the quarantined payload for the admin
        RawInbound.objects.filter(pk=raw.pk).update(
            error=redact(f"{type(exc).__name__}: {exc}"[:10_000])
        )
        raise
    return result


def messages_with_external_ids(
    external_ids: Iterable[str], channels: Sequence[str] | None = None
) -> QuerySet[Message]:
    """Messages by external id (Message-ID, chat client id, provider id), found through the unique
    index on (channel, external_id): the query names the channels (all of them by default) and
    leaves out empty ids as the index does. Without either, PostgreSQL and SQLite read the whole
    message table for each look-up."""
    return Message.objects.filter(
        channel__in=list(channels or Channel.values), external_id__in=list(external_ids)
    ).exclude(external_id="")


def is_participant(
    customer_id: int | None, requester_id: int | None, cc_ids: Iterable[int]
) -> bool:
    """The participant rule: who may add a message to an existing ticket by naming it (a ticket
    tag, References or In-Reply-To, a chat session, any thread key). Only its requester (every
    address and identity of that customer resolves to the same customer) and the customers on
    its CC list, which come from the requester's own mail or an agent. Ticket numbers are
    sequential and Message-IDs travel in every quote, so naming a ticket proves nothing: anyone
    else's message opens a ticket of its own, linked to the one it named (`_ingest`).

    cc_ids is read only when the writer is not the requester (a lazy query set will do); a fast
    path that knows only the requester passes an empty tuple and leaves CC writers to `ingest`."""
    if customer_id is None:
        return False
    return customer_id == requester_id or customer_id in cc_ids


def _thread(inbound: InboundMessage, customer: Customer) -> Ticket | None:
    """The ticket the inbound names (references, then ticket hint, then thread key), whoever
    wrote it: `_ingest` asks `is_participant` before adding to it."""
    if inbound.references:
        refs = [r[:255] for r in inbound.references if r][-50:]
        hit = (
            messages_with_external_ids(refs)
            .order_by("-created_at")
            .values_list("ticket_id", flat=True)
            .first()
        )
        if hit:
            return Ticket.objects.filter(pk=hit).first()
    if inbound.ticket_hint:
        ticket = Ticket.objects.filter(pk=inbound.ticket_hint).first()
        if ticket is not None:
            return ticket
    if inbound.thread_key:
        found = _OPEN_TICKET_BY_THREAD_KEY.first(
            thread_key=inbound.thread_key[:255], channel=inbound.channel
        )
        return Ticket.objects.filter(pk=found[0]).first() if found else None
    return None


# Asked for most new inbound messages (and mostly finds nothing): written once per process.
_OPEN_TICKET_BY_THREAD_KEY = PreparedQuery(
    lambda thread_key, channel: (
        Ticket.objects.filter(thread_key=thread_key, channel=channel)
        .exclude(status=Status.CLOSED)
        .order_by("-id")
        .values_list("pk")[:1]
    ),
    thread_key="\x00thread key placeholder\x00",
    channel="\x00channel placeholder\x00",
)


def _follow_merges(ticket: Ticket) -> Ticket:
    seen = set()
    while ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = Ticket.objects.get(pk=ticket.merged_into_id)
    return ticket


def ingest(inbound: InboundMessage) -> IngestResult:
    """The one entry point for every channel: customer, threading, message, raw payload, events.

    Idempotent on (channel, external_id): the same message twice makes one message.
    """
    if inbound.channel not in Channel.values:
        raise ValidationFailed(f"Unknown channel {inbound.channel!r}.", code="bad_channel")
    redact_inbound(inbound)
    external_id = (inbound.external_id or "")[:255]
    # No look-up for a duplicate first: the unique (channel, external_id) constraint refuses the
    # second copy and everything it wrote is rolled back, which costs a duplicate more than a
    # look-up would, and spares every other message the look-up. The channels that see many
    # duplicates (chat client ids, email redeliveries) look before parsing anyway.
    try:
        with transaction.atomic():
            return _ingest(inbound, external_id)
    except IntegrityError:
        if not external_id:  # not a second copy: messages without an id are never unique
            raise
        existing = (
            messages_with_external_ids([external_id], [inbound.channel])
            .select_related("ticket")
            .first()
        )
        if existing is None:
            raise
        return IngestResult(
            ticket=existing.ticket, message=existing, created_ticket=False, duplicate=True
        )


def _strip_nul(value: Any) -> Any:
    """NUL characters carry no meaning in text and PostgreSQL refuses them: drop them everywhere."""
    if isinstance(value, str):
        return value.replace("\x00", "")
    if isinstance(value, dict):
        return {_strip_nul(k): _strip_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_strip_nul(v) for v in value]
    return value


def _ingest(inbound: InboundMessage, external_id: str) -> IngestResult:
    inbound.subject = _strip_nul(inbound.subject)
    inbound.body_text = _strip_nul(inbound.body_text)
    inbound.body_html = _strip_nul(inbound.body_html)
    inbound.sender.name = _strip_nul(inbound.sender.name)
    inbound.metadata = _strip_nul(inbound.metadata)
    raw = None
    if inbound.raw_record is not None:
        raw = inbound.raw_record
    elif inbound.raw_id:
        raw = RawInbound.objects.filter(pk=inbound.raw_id).first()
    elif inbound.raw:
        raw = store_raw(inbound.channel, inbound.raw, external_id=external_id)
    customer, _ = find_or_create_customer(
        inbound.sender.kind, inbound.sender.value, name=inbound.sender.name
    )
    actor = Actor(
        kind=inbound.author_kind,
        customer=customer if inbound.author_kind == AuthorKind.CUSTOMER else None,
        name=inbound.sender.name,
    )
    claimed = _thread(inbound, customer)
    if claimed is not None:
        claimed = _follow_merges(claimed)
    ticket = claimed
    thread_key = inbound.thread_key
    metadata = {**inbound.metadata, **_dropped_attachments(inbound)}
    if claimed is not None and not is_participant(
        customer.pk, claimed.requester_id, claimed.cc.values_list("pk", flat=True)
    ):
        # A stranger naming a ticket gets one of their own; the agent may merge them by hand.
        # It does not take the key it claimed either, or the next look-up would find it.
        ticket = None
        if thread_key[:255] == claimed.thread_key:
            thread_key = ""
        metadata["warnings"] = [
            *metadata.get("warnings", []),
            f"The sender is not on ticket #{claimed.pk} (requester or CC) but wrote as a reply "
            "to it: kept apart in a ticket of its own, linked to it. Merge them if it belongs "
            "there.",
        ]
    created = False
    if ticket is None or ticket.status == Status.CLOSED:
        previous = ticket
        # Inside ingest's transaction already; the first message comes back without a look-up.
        ticket, message = _open_ticket(
            actor,
            subject=inbound.subject,
            requester=customer,
            body_text=inbound.body_text,
            body_html=inbound.body_html,
            channel=inbound.channel,
            priority=inbound.priority if inbound.priority is not None else Priority.NORMAL,
            team=inbound.team,
            tags=inbound.tags,
            attachments=_acceptable_attachments(inbound),
            author_kind=inbound.author_kind,
            external_id=external_id,
            thread_key=thread_key,
            raw=raw,
            metadata=metadata,
            always_message=True,
        )
        if previous is not None:
            TicketLink.objects.create(source=ticket, target=previous, kind=LinkKind.FOLLOW_UP)
        elif claimed is not None:
            link(actor, ticket, claimed, LinkKind.RELATED)
        created = True
    else:
        message = _add_inbound_message(ticket, inbound, customer, actor, raw, external_id)
    # CCs come from the requester's own mail (or an agent), never from another participant's.
    if inbound.cc and customer.pk == ticket.requester_id:
        _add_cc(ticket, inbound.cc, actor)
    if raw is not None:
        RawInbound.objects.filter(pk=raw.pk).update(
            state=RawInbound.State.PROCESSED, processed_at=timezone.now(), error=""
        )
    assert message is not None
    return IngestResult(ticket=ticket, message=message, created_ticket=created)


def _acceptable_attachments(inbound: InboundMessage) -> list[InboundAttachment]:
    accepted = []
    for upload in inbound.attachments:
        try:
            check_attachment(_clean_filename(upload.filename), len(upload.content))
        except (PayloadTooLarge, ValidationFailed):
            continue
        accepted.append(upload)
    return accepted


def _dropped_attachments(inbound: InboundMessage) -> dict[str, Any]:
    """Attachments refused by the limits are named on the message; the raw payload still has them."""
    dropped = []
    for upload in inbound.attachments:
        try:
            check_attachment(_clean_filename(upload.filename), len(upload.content))
        except (PayloadTooLarge, ValidationFailed) as exc:
            dropped.append({"filename": _clean_filename(upload.filename), "reason": exc.message})
    return {"dropped_attachments": dropped} if dropped else {}


def _add_inbound_message(
    ticket: Ticket,
    inbound: InboundMessage,
    customer: Customer,
    actor: Actor,
    raw: RawInbound | None,
    external_id: str,
) -> Message:
    text, html = _bodies(inbound.body_text, inbound.body_html)
    batch = _EventBatch(ticket, actor)
    message = Message.objects.create(
        ticket=ticket,
        author_kind=inbound.author_kind,
        author_customer=customer if inbound.author_kind == AuthorKind.CUSTOMER else None,
        body_text=text,
        body_html=html,
        channel=inbound.channel,
        external_id=external_id,
        delivery_status=DeliveryStatus.RECEIVED,
        raw=raw,
        metadata={**inbound.metadata, **_dropped_attachments(inbound)},
    )
    for upload in _acceptable_attachments(inbound):
        store_attachment(message, upload)
    batch.add(
        EventKind.MESSAGE_ADDED,
        message_id=message.pk,
        author_kind=inbound.author_kind,
        internal=False,
    )
    fields = []
    if inbound.author_kind == AuthorKind.CUSTOMER:
        ticket.last_customer_message_at = message.created_at
        fields.append("last_customer_message_at")
        # A customer writing back reopens a solved ticket and takes a pending one off hold.
        if ticket.status in (Status.SOLVED, Status.PENDING):
            old = ticket.status
            ticket.status = Status.OPEN
            fields.append("status")
            if old == Status.SOLVED:
                ticket.reopened_count += 1
                ticket.solved_at = None
                fields += ["reopened_count", "solved_at"]
                batch.add(EventKind.REOPENED, reason="customer replied")
            batch.add(EventKind.STATUS_CHANGED, old=old, new=Status.OPEN)
    _touch(ticket, fields)
    search.append_to_ticket(ticket.pk, message.body_text)
    batch.announce()
    return message


def _add_cc(ticket: Ticket, identities: list[SenderIdentity], actor: Actor) -> None:
    batch = _EventBatch(ticket, actor)
    for identity in identities[:50]:
        try:
            cc_customer, _ = find_or_create_customer(
                identity.kind, identity.value, name=identity.name
            )
        except ValidationFailed:
            continue
        if cc_customer.pk == ticket.requester_id or ticket.cc.filter(pk=cc_customer.pk).exists():
            continue
        ticket.cc.add(cc_customer)
        batch.add(EventKind.CC_ADDED, customer_id=cc_customer.pk)
    batch.announce()


# --- many new tickets at once (a channel's batch) -------------------------------------------

# Asked for every batch of inbound mail: the ORM writes these queries once per process.
# The stored messages a batch's references name, with their tickets (threading and replies).
_REFERENCED_TICKETS = PreparedInQuery(
    lambda external_ids: (
        messages_with_external_ids(external_ids)
        .order_by()
        .values_list("external_id", "ticket_id", "created_at", "id")
    ),
    "external_ids",
    external_ids="\x00external id placeholder\x00",
)
_OPEN_THREAD_KEYS = PreparedInQuery(
    lambda thread_keys, channel: (
        Ticket.objects.filter(thread_key__in=thread_keys, channel=channel)
        .exclude(status=Status.CLOSED)
        .values_list("thread_key")
    ),
    "thread_keys",
    thread_keys="\x00thread key placeholder\x00",
    channel="\x00channel placeholder\x00",
)


def find_threads(inbounds: Sequence[InboundMessage]) -> list[bool]:
    """For each inbound, whether `ingest` would do more than open a plain new ticket for it, as
    the database stands: a reference to a stored message, a ticket hint, or an open ticket with
    its thread key. `_thread`'s look-ups for a whole batch, one query per kind (and chunk); a
    ticket hint always counts (such mail goes through `ingest` one at a time). Who wrote it does
    not matter here: `ingest` asks `is_participant`, and a stranger's ticket is linked."""
    for inbound in inbounds:
        redact_inbound(inbound)  # thread keys are looked up as they are stored
    refs_of = [set([r[:255] for r in inbound.references if r][-50:]) for inbound in inbounds]
    wanted = sorted(set().union(*refs_of) - {""}) if refs_of else []
    stored = {row[0] for row in _REFERENCED_TICKETS.rows(external_ids=wanted)}
    keys: dict[str, set[str]] = {}
    for inbound in inbounds:
        if inbound.thread_key:
            keys.setdefault(inbound.channel, set()).add(inbound.thread_key[:255])
    open_keys = {
        (thread_key, channel)
        for channel, values in keys.items()
        for (thread_key,) in _OPEN_THREAD_KEYS.rows(thread_keys=sorted(values), channel=channel)
    }
    return [
        bool(refs & stored)
        or bool(inbound.ticket_hint)
        or (inbound.thread_key[:255], inbound.channel) in open_keys
        for inbound, refs in zip(inbounds, refs_of, strict=True)
    ]


def ingest_new_many(inbounds: Sequence[InboundMessage]) -> list[IngestResult]:
    """`ingest` for several inbound messages that each open a new ticket (`find_threads` found
    none of them a thread, and no two of them share an external id or a thread key), in the
    caller's transaction: the same customers, tickets, messages, events, tags, search documents
    and raw record states, written with one statement per table for all of them (customers and
    messages looked up once), and announced once on commit (one batch of the change contract).

    Mail with CC or attachments, or a ticket hint, is refused (ValueError): it goes through
    `ingest`. Raises on any failure, IntegrityError included (a concurrent copy of an external id
    or identity): the caller rolls its savepoint back and takes the messages through `ingest`
    one at a time, which quarantines only the one that fails."""
    from caredesk.customers.services import find_or_create_customers

    if not inbounds:
        return []
    now = timezone.now()
    for inbound in inbounds:
        redact_inbound(inbound)
        if inbound.channel not in Channel.values:
            raise ValidationFailed(f"Unknown channel {inbound.channel!r}.", code="bad_channel")
        if inbound.cc or inbound.attachments or inbound.ticket_hint:
            raise ValueError("mail with CC, attachments or a ticket hint is ingested one by one")
        if inbound.raw_record is None and (inbound.raw_id or inbound.raw):
            raise ValueError("a raw payload is taken as its stored record only")
        if inbound.priority is not None and inbound.priority not in Priority.values:
            raise ValidationFailed("Unknown priority.", code="bad_priority")
        inbound.subject = _strip_nul(inbound.subject)
        inbound.body_text = _strip_nul(inbound.body_text)
        inbound.body_html = _strip_nul(inbound.body_html)
        inbound.sender.name = _strip_nul(inbound.sender.name)
        inbound.metadata = _strip_nul(inbound.metadata)
    customers = find_or_create_customers(
        [(i.sender.kind, i.sender.value, i.sender.name) for i in inbounds], now
    )
    bodies = [_bodies(i.body_text, i.body_html) for i in inbounds]
    ticket_rows: list[dict[str, Any]] = []
    tag_names: list[list[str]] = []
    for inbound, customer, (text, _) in zip(inbounds, customers, bodies, strict=True):
        from_customer = inbound.author_kind == AuthorKind.CUSTOMER
        ticket_rows.append(
            {
                "subject": _clean_subject(inbound.subject, text),
                "status": Status.NEW,
                "priority": inbound.priority if inbound.priority is not None else Priority.NORMAL,
                "channel": inbound.channel,
                "requester_id": customer.pk,
                "organization_id": customer.organization_id,
                "team_id": inbound.team.pk if inbound.team else None,
                "custom_fields": {},
                "language": customer.language[:10],
                "thread_key": inbound.thread_key[:255],
                # The first message's created_at, as `_open_ticket` sets it.
                "last_customer_message_at": now if from_customer else None,
                "created_at": now,
                "updated_at": now,
            }
        )
        tag_names.append(_clean_tags(inbound.tags) if inbound.tags else [])
    ticket_ids = insert_rows(Ticket, ticket_rows, now)
    if any(tag_names):
        tags = {t.name: t for t in _tags_named(sorted({n for names in tag_names for n in names}))}
        through = Ticket.tags.through
        through.objects.bulk_create(
            [
                through(ticket_id=ticket_id, tag_id=tags[name].pk)
                for ticket_id, names in zip(ticket_ids, tag_names, strict=True)
                for name in names
            ]
        )
    message_rows: list[dict[str, Any]] = []
    for inbound, customer, ticket_id, (text, html) in zip(
        inbounds, customers, ticket_ids, bodies, strict=True
    ):
        from_customer = inbound.author_kind == AuthorKind.CUSTOMER
        message_rows.append(
            {
                "ticket_id": ticket_id,
                "author_kind": inbound.author_kind,
                "author_customer_id": customer.pk if from_customer else None,
                "body_text": text,
                "body_html": html,
                "channel": inbound.channel,
                "external_id": (inbound.external_id or "")[:255],
                "delivery_status": DeliveryStatus.RECEIVED
                if from_customer
                else DeliveryStatus.NONE,
                "raw_id": inbound.raw_record.pk if inbound.raw_record else None,
                "metadata": dict(inbound.metadata),
                "created_at": now,
            }
        )
    message_ids = insert_rows(Message, message_rows, now)
    # The events of each ticket in the order `_open_ticket` writes them, ticket after ticket.
    per_ticket: list[list[tuple[str, dict[str, Any]]]] = []
    for inbound, row, names, message_id in zip(
        inbounds, ticket_rows, tag_names, message_ids, strict=True
    ):
        events: list[tuple[str, dict[str, Any]]] = [
            (
                EventKind.CREATED,
                {
                    "channel": inbound.channel,
                    "subject": row["subject"],
                    "priority": Priority(row["priority"]).label,
                    "team": row["team_id"],
                },
            )
        ]
        if names:
            events.append((EventKind.TAGS_CHANGED, {"added": names, "removed": []}))
        events.append(
            (
                EventKind.MESSAGE_ADDED,
                {"message_id": message_id, "author_kind": inbound.author_kind, "internal": False},
            )
        )
        per_ticket.append(events)
    event_rows: list[dict[str, Any]] = []
    for inbound, customer, ticket_id, events in zip(
        inbounds, customers, ticket_ids, per_ticket, strict=True
    ):
        from_customer = inbound.author_kind == AuthorKind.CUSTOMER
        event_rows += [
            {
                "ticket_id": ticket_id,
                "kind": kind,
                "actor_kind": inbound.author_kind,
                "actor_customer_id": customer.pk if from_customer else None,
                "data": data,
                "created_at": now,
            }
            for kind, data in events
        ]
    event_ids = iter(insert_rows(TicketEvent, event_rows, now))
    search.add_tickets(
        [
            (ticket_id, row["subject"], message["body_text"], row["language"])
            for ticket_id, row, message in zip(ticket_ids, ticket_rows, message_rows, strict=True)
        ]
    )
    update_by_ids(
        RawInbound,
        [i.raw_record.pk for i in inbounds if i.raw_record is not None],
        {"state": RawInbound.State.PROCESSED, "processed_at": now, "error": ""},
    )
    changes: list[TicketChange] = []
    results: list[IngestResult] = []
    for inbound, customer, ticket_id, row, message_id, message_row, events in zip(
        inbounds,
        customers,
        ticket_ids,
        ticket_rows,
        message_ids,
        message_rows,
        per_ticket,
        strict=True,
    ):
        ids = [next(event_ids) for _ in events]
        changes.append(
            TicketChange(
                ticket_id,
                ids,
                [kind for kind, _ in events],
                [data for _, data in events],
                actor_kind=inbound.author_kind,
                channel=inbound.channel,
                fields={
                    "team_id": row["team_id"],
                    "assignee_id": None,
                    "restricted": False,
                    "channel": inbound.channel,
                },
            )
        )
        ticket = Ticket(pk=ticket_id, **row)
        ticket.requester = customer
        ticket.team = inbound.team
        message = Message(pk=message_id, **message_row)
        message.ticket = ticket
        for instance in (ticket, message):
            instance._state.adding = False
            instance._state.db = connection.alias
        results.append(IngestResult(ticket=ticket, message=message, created_ticket=True))
    announce_on_commit(changes)
    return results


# --- agent actions --------------------------------------------------------------------------


def _check_version(ticket: Ticket, expected_version: int | None) -> None:
    if expected_version is not None and expected_version != ticket.version:
        raise Conflict(
            f"Ticket {ticket.pk} was changed by someone else (version {ticket.version}, you had "
            f"{expected_version}). Reload to see their change.",
            code="stale_version",
        )


def _check_transition(ticket: Ticket, new_status: str) -> None:
    if new_status not in Status.values:
        raise ValidationFailed(f"Unknown status {new_status!r}.", code="bad_status")
    if new_status != ticket.status and new_status not in ALLOWED_TRANSITIONS[ticket.status]:
        raise ValidationFailed(
            f"A {ticket.status} ticket cannot become {new_status}.", code="bad_transition"
        )


def _apply_status(ticket: Ticket, new_status: str, batch: _EventBatch) -> list[str]:
    old = ticket.status
    if new_status == old:
        return []
    ticket.status = new_status
    fields = ["status"]
    now = timezone.now()
    if new_status == Status.SOLVED:
        ticket.solved_at = now
        fields.append("solved_at")
    if new_status == Status.CLOSED:
        ticket.closed_at = now
        fields.append("closed_at")
    if old == Status.SOLVED and new_status == Status.OPEN:
        ticket.reopened_count += 1
        ticket.solved_at = None
        fields += ["reopened_count", "solved_at"]
        batch.add(EventKind.REOPENED, reason="reopened by agent")
    batch.add(EventKind.STATUS_CHANGED, old=old, new=new_status)
    return fields


@transaction.atomic
def change_status(
    actor: User | Actor, ticket: Ticket, new_status: str, *, expected_version: int | None = None
) -> Ticket:
    who = as_actor(actor)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    _check_version(ticket, expected_version)
    _check_transition(ticket, new_status)
    batch = _EventBatch(ticket, who)
    fields = _apply_status(ticket, new_status, batch)
    if fields:
        _touch(ticket, fields)
    batch.announce()
    return ticket


def check_assign(ticket: Ticket, assignee: User | None, team: Team | None) -> None:
    # assign_many applies the same rule to plain values: change both together.
    if assignee is None:
        return
    if not assignee.is_active:
        raise ValidationFailed(
            f"{assignee} is deactivated and cannot take tickets.", code="inactive_agent"
        )
    if team is not None and not assignee.is_admin and team.pk not in assignee.team_ids():
        raise ValidationFailed(
            f"{assignee} is not a member of the {team} team.", code="agent_not_in_team"
        )


def _assign(ticket: Ticket, assignee: User | None, batch: _EventBatch) -> list[str]:
    if ticket.assignee_id == (assignee.pk if assignee else None):
        return []
    old = ticket.assignee_id
    ticket.assignee = assignee
    fields = ["assignee"]
    batch.add(EventKind.ASSIGNED, old=old, new=assignee.pk if assignee else None)
    if assignee is not None and ticket.status == Status.NEW:
        fields += _apply_status(ticket, Status.OPEN, batch)
    return fields


@transaction.atomic
def assign(
    actor: User | Actor,
    ticket: Ticket,
    assignee: User | None,
    *,
    team: Team | None = None,
    expected_version: int | None = None,
) -> Ticket:
    """Assign to an agent (and optionally move team); the agent must belong to the ticket's team."""
    who = as_actor(actor)
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=ticket.pk)
    _check_version(ticket, expected_version)
    target_team = team if team is not None else ticket.team
    check_assign(ticket, assignee, target_team)
    batch = _EventBatch(ticket, who)
    fields: list[str] = []
    if team is not None and team.pk != ticket.team_id:
        batch.add(EventKind.TEAM_CHANGED, old=ticket.team_id, new=team.pk)
        ticket.team = team
        fields.append("team")
    fields += _assign(ticket, assignee, batch)
    if fields:
        _touch(ticket, fields)
    batch.announce()
    return ticket


@dataclass(frozen=True)
class PlannedAssignment:
    """One line of a bulk assignment: move `ticket_id` from `current_assignee_id` to `assignee_id`
    (None unassigns)."""

    ticket_id: int
    current_assignee_id: int | None
    assignee_id: int | None


BULK_CHUNK = 500
TICKET_UPDATE_FIELDS = ("id", "assignee", "status", "version", "updated_at")


EVENT_COLUMNS = ("ticket", "kind", "data", "actor_kind", "actor_agent", "actor_customer")


def _insert_events(
    who: Actor, events: list[tuple[int, str, dict[str, Any]]], now: datetime
) -> list[int]:
    """Append the events of a bulk change and return their ids in order: multi-row INSERTs
    (`core.bulk.insert_rows`) without bulk_create's per-field work, which would cost more than
    the insert itself; on PostgreSQL one statement over a JSON parameter."""
    if connection.vendor == "postgresql":
        return _insert_events_as_json(who, events, now)
    actor = {
        "actor_kind": who.kind,
        "actor_agent_id": who.agent.pk if who.agent else None,
        "actor_customer_id": who.customer.pk if who.customer else None,
    }
    return insert_rows(
        TicketEvent,
        [
            {"ticket_id": ticket_id, "kind": kind, "data": data, **actor}
            for ticket_id, kind, data in events
        ],
        now,
    )


def _insert_events_as_json(
    who: Actor, events: list[tuple[int, str, dict[str, Any]]], now: datetime
) -> list[int]:
    """PostgreSQL: every event of a bulk change in one INSERT ... SELECT over one JSON array of
    rows (the rows as one parameter: psycopg quotes a text array element by element in Python,
    which cost more than the insert; one JSON text is one C-quoted string, and each event's data
    is already JSON in it)."""
    quote = connection.ops.quote_name
    meta = TicketEvent._meta
    names = (*EVENT_COLUMNS, "created_at")
    column = {f.name: quote(f.column or f.name) for f in meta.concrete_fields if f.name in names}
    encoder = meta.get_field("data").encoder  # type: ignore[union-attr]
    # Table and column names come from the model; every value is a bound parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({column['ticket']}, {column['kind']}, "  # noqa: S608
        f"{column['data']}, {column['actor_kind']}, {column['actor_agent']}, "
        f"{column['actor_customer']}, {column['created_at']}) "
        "SELECT (e->>0)::bigint, e->>1, e->2, %s, %s, %s, %s "
        "FROM jsonb_array_elements(%s::jsonb) WITH ORDINALITY AS v(e, n) "
        f"ORDER BY v.n RETURNING {quote(meta.pk.column or 'id')}"  # type: ignore[union-attr]
    )
    params = [
        who.kind,
        who.agent.pk if who.agent else None,
        who.customer.pk if who.customer else None,
        now,
        json.dumps(events, cls=encoder),
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        # The ids come from one sequence in the order of the rows inserted (ORDER BY v.n): sorted,
        # they are the events' ids in order whatever order RETURNING lists them in.
        return sorted(pk for (pk,) in cursor.fetchall())


# Built once per process (an __in of 500 ids cost the ORM more than the read).
_LOCK_FOR_ASSIGN = PreparedInQuery(
    lambda ticket_ids: (
        Ticket.objects.select_for_update(of=("self",))
        .filter(pk__in=ticket_ids)
        .order_by("id")
        .values_list("id", "assignee_id", "status", "team_id", "restricted", "channel")
    ),
    "ticket_ids",
    ticket_ids=-7_000_010,
)


# No savepoint of its own: inside the routing pass's transaction a savepoint made SQLite journal
# every page the bulk UPDATE touched, three times the cost of the UPDATE itself. An error still
# rolls back the whole enclosing transaction (nothing is written in part).
@transaction.atomic(savepoint=False)
def assign_many(actor: User | Actor, plan: Iterable[PlannedAssignment]) -> list[int]:
    """Assign or unassign many tickets at once (the routing pass): the same checks, field changes
    and events as `assign`, announced on commit once for all the tickets (one batch of the
    change contract), in a fixed number of queries
    plus one per chunk of rows.

    The plan was made from a snapshot, so a ticket whose assignee is no longer the one it was
    planned against (someone took it meanwhile), that is no longer active, or whose new assignee
    fails `check_assign`, is left alone. Returns the ids of the tickets changed."""
    who = as_actor(actor)
    by_ticket = {p.ticket_id: p for p in plan if p.current_assignee_id != p.assignee_id}
    if not by_ticket:
        return []
    agent_ids = {p.assignee_id for p in by_ticket.values() if p.assignee_id is not None}
    # What check_assign reads, for every agent of the plan at once, as plain values (a thousand
    # model instances a chunk would cost more than the rest of the checks).
    agents: dict[int, tuple[bool, bool, set[int]]] = {
        pk: (is_active, role == Role.ADMIN, set())
        for pk, role, is_active in User.objects.filter(pk__in=agent_ids).values_list(
            "id", "role", "is_active"
        )
    }
    for user_id, team_id in User.teams.through.objects.filter(user_id__in=agent_ids).values_list(
        "user_id", "team_id"
    ):
        agents[user_id][2].add(team_id)
    # The lock-and-check read, as plain rows with what the live workspace needs to know who to
    # tell (announced with the change, so it need not read the tickets again).
    locked = _LOCK_FOR_ASSIGN.rows(ticket_ids=sorted(by_ticket))
    rows: list[tuple[int, int | None, str]] = []
    events: list[tuple[int, str, dict[str, Any]]] = []
    audience: dict[int, dict[str, Any]] = {}
    for ticket_id, current_assignee_id, status, ticket_team_id, restricted, channel in locked:
        line = by_ticket[ticket_id]
        if current_assignee_id != line.current_assignee_id or status not in ACTIVE_STATUSES:
            continue
        if line.assignee_id is not None:
            assignee = agents.get(line.assignee_id)
            if assignee is None:
                continue
            is_active, is_admin, member_of = assignee
            # check_assign's rule: active, and a member of the ticket's team unless an admin.
            if not is_active or not (
                ticket_team_id is None or is_admin or ticket_team_id in member_of
            ):
                continue
        new_status = Status.OPEN if line.assignee_id is not None else status
        events.append(
            (ticket_id, EventKind.ASSIGNED, {"old": current_assignee_id, "new": line.assignee_id})
        )
        if new_status != status:  # as _assign: taking a new ticket opens it
            events.append((ticket_id, EventKind.STATUS_CHANGED, {"old": status, "new": new_status}))
        rows.append((ticket_id, line.assignee_id, new_status))
        audience[ticket_id] = {
            "team_id": ticket_team_id,
            "assignee_id": line.assignee_id,
            "restricted": bool(restricted),
            "channel": channel,
        }
    now = timezone.now()
    quote = connection.ops.quote_name
    if rows:
        # One statement run for every row (executemany): the ORM would build a query per row, or
        # one CASE per chunk that costs more to compile than to run.
        columns = {f.name: f.column or f.name for f in Ticket._meta.concrete_fields}
        column = {name: quote(columns[name]) for name in TICKET_UPDATE_FIELDS}
        # Table and column names come from the model; every value is a bound parameter.
        sql = (
            f"UPDATE {quote(Ticket._meta.db_table)} SET {column['assignee']} = %s, "  # noqa: S608
            f"{column['status']} = %s, {column['version']} = {column['version']} + 1, "
            f"{column['updated_at']} = %s WHERE {column['id']} = %s"
        )
        stamp = connection.ops.adapt_datetimefield_value(now)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                # One statement over the rows as one JSON parameter: executemany costs
                # PostgreSQL a statement per row, and arrays cost psycopg a quoting per element.
                cursor.execute(
                    f"UPDATE {quote(Ticket._meta.db_table)} AS t SET "  # noqa: S608
                    f"{column['assignee']} = (v.e->>1)::bigint, {column['status']} = v.e->>2, "
                    f"{column['version']} = t.{column['version']} + 1, "
                    f"{column['updated_at']} = %s "
                    "FROM jsonb_array_elements(%s::jsonb) AS v(e) "
                    f"WHERE t.{column['id']} = (v.e->>0)::bigint",
                    [stamp, json.dumps(rows)],
                )
            else:
                cursor.executemany(
                    sql, [(assignee_id, status, stamp, pk) for pk, assignee_id, status in rows]
                )
    event_ids = _insert_events(who, events, now)
    by_event_ticket: dict[int, tuple[list[int], list[str], list[dict[str, Any]]]] = {}
    for (ticket_id, kind, data), event_id in zip(events, event_ids, strict=True):
        ids, kinds_of, data_of = by_event_ticket.setdefault(ticket_id, ([], [], []))
        ids.append(event_id)
        kinds_of.append(kind)
        data_of.append(data)
    announce_on_commit(
        [
            TicketChange(
                ticket_id,
                ids,
                kinds_of,
                data_of,
                actor_kind=who.kind,
                channel=audience[ticket_id]["channel"],
                fields=audience[ticket_id],
            )
            for ticket_id, (ids, kinds_of, data_of) in by_event_ticket.items()
        ]
    )
    return list(by_event_ticket)


EDITABLE = {
    "subject",
    "status",
    "priority",
    "team",
    "assignee",
    "tags",
    "custom_fields",
    "category",
    "language",
    "restricted",
}


@transaction.atomic
def update_ticket(
    actor: User | Actor,
    ticket: Ticket,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> Ticket:
    """Apply several field changes at once (the API's PATCH, the UI's inline edits, bulk edit).

    `team` and `assignee` are Team/User objects (or None); `priority` a Priority value or name.
    """
    who = as_actor(actor)
    unknown = set(changes) - EDITABLE
    if unknown:
        raise ValidationFailed(
            f"Unknown ticket fields: {', '.join(sorted(unknown))}.", code="unknown_field"
        )
    ticket = Ticket.objects.select_for_update(of=("self",)).select_related("team").get(pk=ticket.pk)
    _check_version(ticket, expected_version)
    batch = _EventBatch(ticket, who)
    fields: list[str] = []
    if "status" in changes:
        _check_transition(ticket, changes["status"])
    if "priority" in changes:
        value = changes["priority"]
        from caredesk.tickets.models import PRIORITY_BY_NAME

        value = PRIORITY_BY_NAME.get(value, value) if isinstance(value, str) else value
        if value not in Priority.values:
            raise ValidationFailed(
                "priority must be one of low, normal, high, urgent.", code="bad_priority"
            )
        if value != ticket.priority:
            batch.add(
                EventKind.PRIORITY_CHANGED,
                old=Priority(ticket.priority).label,
                new=Priority(value).label,
            )
            ticket.priority = value
            fields.append("priority")
    if "subject" in changes:
        subject = " ".join(str(changes["subject"] or "").split())
        if not subject or len(subject) > MAX_SUBJECT:
            raise ValidationFailed(
                f"subject must be 1 to {MAX_SUBJECT} characters.", code="bad_subject"
            )
        if subject != ticket.subject:
            batch.add(EventKind.FIELD_CHANGED, field="subject", old=ticket.subject, new=subject)
            ticket.subject = subject
            fields.append("subject")
    for simple in ("category", "language"):
        if simple in changes and changes[simple] != getattr(ticket, simple):
            batch.add(
                EventKind.FIELD_CHANGED,
                field=simple,
                old=getattr(ticket, simple),
                new=changes[simple],
            )
            setattr(ticket, simple, str(changes[simple] or "")[:100])
            fields.append(simple)
    if "restricted" in changes and bool(changes["restricted"]) != ticket.restricted:
        if who.agent is not None and not who.agent.is_lead:
            raise PermissionDenied("Only team leads and admins can restrict a ticket.")
        batch.add(
            EventKind.FIELD_CHANGED,
            field="restricted",
            old=ticket.restricted,
            new=bool(changes["restricted"]),
        )
        ticket.restricted = bool(changes["restricted"])
        fields.append("restricted")
    if "custom_fields" in changes:
        cleaned = validate_custom_fields(changes["custom_fields"] or {})
        merged = {**ticket.custom_fields, **cleaned}
        if merged != ticket.custom_fields:
            batch.add(
                EventKind.FIELD_CHANGED,
                field="custom_fields",
                old={k: ticket.custom_fields.get(k) for k in cleaned},
                new=cleaned,
            )
            ticket.custom_fields = merged
            fields.append("custom_fields")
    new_team = changes.get("team", ticket.team) if "team" in changes else ticket.team
    if "team" in changes and (new_team.pk if new_team else None) != ticket.team_id:
        batch.add(EventKind.TEAM_CHANGED, old=ticket.team_id, new=new_team.pk if new_team else None)
        ticket.team = new_team
        fields.append("team")
        # Moving teams drops an assignee who is not in the new team.
        if (
            "assignee" not in changes
            and ticket.assignee
            and new_team
            and not ticket.assignee.is_admin
            and new_team.pk not in ticket.assignee.team_ids()
        ):
            fields += _assign(ticket, None, batch)
    if "assignee" in changes:
        check_assign(ticket, changes["assignee"], ticket.team)
        fields += _assign(ticket, changes["assignee"], batch)
    if "status" in changes:
        fields += _apply_status(ticket, changes["status"], batch)
    if "tags" in changes:
        before = set(ticket.tags.values_list("name", flat=True))
        after = set(_set_tags(ticket, changes["tags"] or []))
        if before != after:
            batch.add(
                EventKind.TAGS_CHANGED, added=sorted(after - before), removed=sorted(before - after)
            )
            fields.append("updated_at")
    if fields:
        _touch(ticket, [f for f in dict.fromkeys(fields) if f != "updated_at"])
    if {"subject", "language"} & set(fields):
        search.retitle_ticket(ticket.pk, title=ticket.subject, language=ticket.language)
    batch.announce()
    return ticket


@transaction.atomic
def add_tags(actor: User | Actor, ticket: Ticket, names: Iterable[str]) -> Ticket:
    current = set(ticket.tags.values_list("name", flat=True))
    return update_ticket(
        actor, ticket, {"tags": sorted(current | {n.strip().lower() for n in names if n.strip()})}
    )


@transaction.atomic
def post_message(
    actor: User | Actor,
    ticket: Ticket,
    *,
    body_text: str = "",
    body_html: str = "",
    internal: bool = False,
    attachments: Iterable[InboundAttachment] = (),
    status_after: str | None = None,
    metadata: dict[str, Any] | None = None,
) -> Message:
    """An agent's public reply or internal note (or a bot/system message); `metadata` is kept on
    the message (the composer's draft key, an e-mail reply's CC and BCC).

    A public reply on a closed ticket is refused (the customer is answered on a follow-up);
    a reply to a solved ticket reopens it unless status_after says otherwise.
    """
    who = as_actor(actor)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    attachments = list(attachments)
    if not (body_text or "").strip() and not (body_html or "").strip() and not attachments:
        raise ValidationFailed("The message is empty.", code="empty_message")
    if ticket.status == Status.CLOSED and not internal:
        raise ValidationFailed(
            f"Ticket {ticket.pk} is closed; create a follow-up ticket to write to the customer.",
            code="ticket_closed",
        )
    if ticket.merged_into_id:
        raise ValidationFailed(
            f"Ticket {ticket.pk} was merged into #{ticket.merged_into_id}; write there.",
            code="ticket_merged",
        )
    for upload in attachments:
        check_attachment(_clean_filename(upload.filename), len(upload.content))
    text, html = _bodies(body_text, body_html)
    author_kind = who.kind if who.kind != AuthorKind.CUSTOMER else AuthorKind.CUSTOMER
    message = Message.objects.create(
        ticket=ticket,
        author_kind=author_kind,
        author_agent=who.agent,
        author_customer=who.customer,
        internal=internal,
        body_text=text,
        body_html=html,
        channel=ticket.channel,
        metadata=metadata or {},
        delivery_status=DeliveryStatus.QUEUED
        if not internal and author_kind != AuthorKind.CUSTOMER and delivers_replies(ticket.channel)
        else DeliveryStatus.NONE,
    )
    for upload in attachments:
        store_attachment(message, upload)
    if message.delivery_status == DeliveryStatus.QUEUED:
        outbox.queue_reply(message)  # in this transaction: sent after commit, never lost
    batch = _EventBatch(ticket, who)
    batch.add(
        EventKind.NOTE_ADDED if internal else EventKind.MESSAGE_ADDED,
        message_id=message.pk,
        author_kind=author_kind,
        internal=internal,
    )
    fields: list[str] = []
    now = message.created_at
    if not internal and author_kind in (AuthorKind.AGENT, AuthorKind.BOT):
        if ticket.first_response_at is None and author_kind == AuthorKind.AGENT:
            ticket.first_response_at = now
            fields.append("first_response_at")
        ticket.last_agent_message_at = now
        fields.append("last_agent_message_at")
        if status_after is None and ticket.status in (Status.NEW, Status.SOLVED):
            status_after = Status.OPEN
    if not internal and author_kind == AuthorKind.CUSTOMER:
        ticket.last_customer_message_at = now
        fields.append("last_customer_message_at")
        if status_after is None and ticket.status in (Status.SOLVED, Status.PENDING):
            status_after = Status.OPEN
    if status_after:
        _check_transition(ticket, status_after)
        fields += _apply_status(ticket, status_after, batch)
    _touch(ticket, fields)
    search.append_to_ticket(ticket.pk, message.body_text)
    batch.announce()
    return message


@transaction.atomic
def follow_up(actor: User | Actor, closed: Ticket, *, body_text: str, subject: str = "") -> Ticket:
    """A new ticket for the same requester, linked to a closed one (closed tickets take no replies)."""
    who = as_actor(actor)
    if not body_text.strip():
        raise ValidationFailed("The message is empty.", code="empty_message")
    ticket = create_ticket(
        who,
        subject=subject or f"Follow-up to #{closed.pk}: {closed.subject}",
        requester=closed.requester,
        channel=closed.channel,
        priority=closed.priority,
        team=closed.team,
        assignee=who.agent
        if who.agent and (closed.team is None or closed.team_id in who.agent.team_ids())
        else None,
    )
    TicketLink.objects.create(source=ticket, target=closed, kind=LinkKind.FOLLOW_UP)
    post_message(who, ticket, body_text=body_text)
    return ticket


def set_delivery_status(message: Message, status: str, error: str = "") -> None:
    if status not in DeliveryStatus.values:
        raise ValidationFailed(f"Unknown delivery status {status!r}.")
    Message.objects.filter(pk=message.pk).update(
        delivery_status=status, delivery_error=error[:2000]
    )
    message.delivery_status = status
    message.delivery_error = error
    record_event(
        message.ticket,
        EventKind.DELIVERY,
        Actor.system("delivery"),
        message_id=message.pk,
        status=status,
        error=error[:500],
    )


@transaction.atomic
def merge(actor: User | Actor, source: Ticket, target: Ticket) -> Ticket:
    """Move source's messages into target, close source, link them. Returns target."""
    who = as_actor(actor)
    if source.pk == target.pk:
        raise ValidationFailed("A ticket cannot be merged into itself.", code="merge_into_self")
    locked = {
        t.pk: t for t in Ticket.objects.select_for_update().filter(pk__in=[source.pk, target.pk])
    }
    source, target = locked[source.pk], locked[target.pk]
    if source.merged_into_id:
        raise ValidationFailed(
            f"Ticket {source.pk} is already merged into #{source.merged_into_id}.",
            code="already_merged",
        )
    if target.merged_into_id:
        raise ValidationFailed(
            f"Ticket {target.pk} was merged into #{target.merged_into_id}; merge there.",
            code="already_merged",
        )
    if target.status == Status.CLOSED:
        raise ValidationFailed(
            f"Ticket {target.pk} is closed; it cannot take more messages.", code="ticket_closed"
        )
    moved = Message.objects.filter(ticket=source).update(ticket=target)
    if source.requester_id != target.requester_id:
        target.cc.add(source.requester_id)
    target.cc.add(*source.cc.all())
    target.tags.add(*source.tags.all())
    source_batch = _EventBatch(source, who)
    source_batch.add(EventKind.MERGED, into=target.pk, messages=moved)
    fields = ["merged_into"]
    source.merged_into = target
    if source.status != Status.CLOSED:
        fields += _apply_status(source, Status.CLOSED, source_batch)
    _touch(source, fields)
    TicketLink.objects.get_or_create(source=source, target=target, kind=LinkKind.DUPLICATE)
    target_batch = _EventBatch(target, who)
    target_batch.add(EventKind.MERGED_IN, source=source.pk, messages=moved)
    _touch(target, [])
    search.index_ticket(source.pk)
    search.index_ticket(target.pk)
    source_batch.announce()
    target_batch.announce()
    return target


@transaction.atomic
def split(
    actor: User | Actor, ticket: Ticket, message_ids: list[int], *, subject: str = ""
) -> Ticket:
    """Move some messages of a ticket into a new ticket for the same requester."""
    who = as_actor(actor)
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    ids = list(dict.fromkeys(message_ids))
    messages = list(Message.objects.filter(ticket=ticket, pk__in=ids))
    if not ids or len(messages) != len(ids):
        raise ValidationFailed("Choose messages that belong to this ticket.", code="bad_messages")
    if Message.objects.filter(ticket=ticket).count() == len(messages):
        raise ValidationFailed(
            "At least one message must stay on the original ticket.", code="split_all"
        )
    new = Ticket.objects.create(
        subject=(subject or f"Split from #{ticket.pk}: {ticket.subject}")[:MAX_SUBJECT],
        status=Status.OPEN,
        priority=ticket.priority,
        channel=ticket.channel,
        requester_id=ticket.requester_id,
        organization_id=ticket.organization_id,
        team_id=ticket.team_id,
        language=ticket.language,
    )
    Message.objects.filter(pk__in=ids).update(ticket=new)
    TicketLink.objects.create(source=new, target=ticket, kind=LinkKind.SPLIT_FROM)
    new_batch = _EventBatch(new, who)
    new_batch.add(EventKind.CREATED, channel=new.channel, subject=new.subject, split_from=ticket.pk)
    old_batch = _EventBatch(ticket, who)
    old_batch.add(EventKind.SPLIT, into=new.pk, messages=ids)
    _touch(ticket, [])
    search.index_ticket(ticket.pk)
    search.index_ticket(new.pk)
    new_batch.announce()
    old_batch.announce()
    return new


@transaction.atomic
def link(
    actor: User | Actor, source: Ticket, target: Ticket, kind: str = LinkKind.RELATED
) -> TicketLink:
    who = as_actor(actor)
    if source.pk == target.pk:
        raise ValidationFailed("A ticket cannot be linked to itself.", code="link_to_self")
    if kind not in LinkKind.values:
        raise ValidationFailed(f"Unknown link kind {kind!r}.")
    record, created = TicketLink.objects.get_or_create(source=source, target=target, kind=kind)
    if created:
        record_event(source, EventKind.LINKED, who, target=target.pk, link_kind=kind)
    return record


@transaction.atomic
def set_following(actor: User, ticket: Ticket, follower: User, following: bool = True) -> None:
    who = as_actor(actor)
    present = ticket.followers.filter(pk=follower.pk).exists()
    if following and not present:
        ticket.followers.add(follower)
        record_event(ticket, EventKind.FOLLOWER_ADDED, who, agent=follower.pk)
    elif not following and present:
        ticket.followers.remove(follower)
        record_event(ticket, EventKind.FOLLOWER_REMOVED, who, agent=follower.pk)


def timeline(ticket: Ticket) -> list[TicketEvent]:
    return list(ticket.events.select_related("actor_agent", "actor_customer").order_by("id"))


# --- many plain customer lines at once (live chat's group commit) -----------------------------

# A customer's message on a ticket in one of these states changes nothing but the message, its
# event, the ticket's timestamps and its search document (see `_add_inbound_message`).
PLAIN_LINE_STATUSES = frozenset({Status.NEW, Status.OPEN, Status.ON_HOLD})


@dataclass(frozen=True)
class CustomerLine:
    """One message from a ticket's requester, for `add_customer_lines`."""

    ticket_id: int
    customer_id: int
    channel: str
    body_text: str
    external_id: str
    metadata: dict[str, Any] = field(default_factory=dict)
    body_html: str = ""  # sanitized here, as `ingest` does
    raw_record_id: int | None = None  # its stored raw payload, marked processed with it


def plain_replies(inbounds: Sequence[InboundMessage]) -> list[CustomerLine | None]:
    """For each inbound, the `CustomerLine` that `add_customer_lines` can store in its place,
    when as far as look-ups tell `ingest` would just add it to an existing ticket: threaded by
    its references (the ticket of the newest stored message it names, as `_thread` does), a
    customer's message whose sender's identity is known, no attachments, CC or ticket hint, and
    a ticket of the same channel that is new, open or on hold, not merged, whose requester wrote
    it. None for the others: what else `ingest` does (reopen, follow-up, merge, cc) stays there.
    Four look-ups for all of them; `add_customer_lines` checks the tickets again under their row
    locks."""
    for inbound in inbounds:
        redact_inbound(inbound)
    lines: list[CustomerLine | None] = [None] * len(inbounds)
    wanted: list[int] = []
    for i, inbound in enumerate(inbounds):
        if (
            inbound.references
            and inbound.author_kind == AuthorKind.CUSTOMER
            and not (inbound.attachments or inbound.cc or inbound.ticket_hint)
        ):
            wanted.append(i)
    if not wanted:
        return lines
    refs_of = {i: [r[:255] for r in inbounds[i].references if r][-50:] for i in wanted}
    newest: dict[str, tuple[Any, int, int]] = {}
    for external_id, ticket_id, created_at, pk in _REFERENCED_TICKETS.rows(
        external_ids=sorted(set().union(*refs_of.values()) - {""})
    ):
        found = (created_at, pk, ticket_id)
        if external_id not in newest or found > newest[external_id]:
            newest[external_id] = found
    senders: dict[tuple[str, str], int] = {}
    normalized: dict[int, tuple[str, str]] = {}
    for i in wanted:
        sender = inbounds[i].sender
        try:
            normalized[i] = (sender.kind, normalize_identity(sender.kind, sender.value))
        except ValidationFailed:  # `ingest` refuses it with its own error
            continue
    by_kind: dict[str, set[str]] = {}
    for kind, value in normalized.values():
        by_kind.setdefault(kind, set()).add(value)
    for kind, values in by_kind.items():
        for value, customer_id in Identity.objects.filter(
            kind=kind, value__in=sorted(values)
        ).values_list("value", "customer_id"):
            senders[(kind, value)] = customer_id
    ticket_of: dict[int, int] = {}
    for i in wanted:
        hits = [newest[r] for r in refs_of[i] if r in newest]
        if hits:
            ticket_of[i] = max(hits)[2]
    plain = {
        pk: (requester_id, channel)
        for pk, requester_id, channel in Ticket.objects.filter(
            pk__in=sorted(set(ticket_of.values())),
            status__in=PLAIN_LINE_STATUSES,
            merged_into__isnull=True,
        ).values_list("pk", "requester_id", "channel")
    }
    for i, ticket_id in ticket_of.items():
        writer = senders.get(normalized.get(i, ("", "")))
        requester_id, ticket_channel = plain.get(ticket_id, (None, ""))
        # Only the requester is known here: anyone else (a CC, a stranger) goes through `ingest`,
        # which asks the participant rule with the CC list. A reply on another channel's ticket
        # (mail into a chat) stays with `ingest` too: that channel's receivers take one message
        # at a time (live chat shows it in the widget).
        if (
            writer is None
            or not is_participant(writer, requester_id, ())
            or ticket_channel != inbounds[i].channel
        ):
            continue
        inbound = inbounds[i]
        lines[i] = CustomerLine(
            ticket_id=ticket_id,
            customer_id=writer,
            channel=inbound.channel,
            body_text=inbound.body_text,
            external_id=(inbound.external_id or "")[:255],
            metadata=dict(inbound.metadata),
            body_html=inbound.body_html,
            raw_record_id=inbound.raw_record.pk if inbound.raw_record is not None else None,
        )
    return lines


@dataclass(frozen=True)
class StoredLine:
    """A message stored by `add_customer_lines`: what its callers tell others about it."""

    message_id: int
    ticket_id: int
    body_text: str
    created_at: datetime


@transaction.atomic
def add_customer_lines(lines: list[CustomerLine]) -> list[StoredLine | None]:
    """Store many customer messages on existing tickets in a fixed number of statements (plus
    one per chunk of rows): the messages in one INSERT, their events in one, one UPDATE run for
    every ticket (timestamps, version) and one for every ticket's search document. The same
    messages, events and ticket fields as `ingest` on a ticket that is new, open or on hold and
    written by its requester; announced on commit once for all the tickets (one batch of the change contract).

    The tickets are locked first, in id order. A line whose ticket is in any other state (solved
    or pending: the line reopens it; closed: a follow-up; merged; missing) or whose writer is not
    the requester (a cc) is not stored: None in its place, for the caller to `ingest` it. The
    caller has checked the lines (size, idempotency keys not taken yet)."""
    if not lines:
        return []
    ticket_ids = sorted({line.ticket_id for line in lines})
    state: dict[int, tuple[str, int | None, int | None]] = {}
    # Who may see each ticket, announced with the change (the live workspace need not read it).
    fields_of: dict[int, dict[str, Any]] = {}
    for start in range(0, len(ticket_ids), BULK_CHUNK):
        for row in (
            Ticket.objects.select_for_update(of=("self",))
            .filter(pk__in=ticket_ids[start : start + BULK_CHUNK])
            .order_by("pk")
            .values_list(
                "id",
                "status",
                "requester_id",
                "merged_into_id",
                "channel",
                "team_id",
                "assignee_id",
                "restricted",
            )
        ):
            state[row[0]] = (row[1], row[2], row[3])
            fields_of[row[0]] = {
                "team_id": row[5],
                "assignee_id": row[6],
                "restricted": bool(row[7]),
                "channel": row[4],
            }
    now = timezone.now()
    ops = connection.ops
    stamp = ops.adapt_datetimefield_value(now)
    plain: list[int] = []
    texts: list[str] = []
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        status, requester_id, merged_into_id = state.get(line.ticket_id, ("", None, None))
        if (
            status not in PLAIN_LINE_STATUSES
            or merged_into_id is not None
            or not is_participant(line.customer_id, requester_id, ())
        ):
            continue
        text, html = _bodies(_strip_nul(line.body_text), _strip_nul(line.body_html))
        plain.append(i)
        texts.append(text)
        rows.append(
            {
                "ticket_id": line.ticket_id,
                "author_kind": AuthorKind.CUSTOMER,
                "author_agent_id": None,
                "author_customer_id": line.customer_id,
                "internal": False,
                "body_text": text,
                "body_html": html,
                "channel": line.channel,
                "external_id": line.external_id[:255],
                "delivery_status": DeliveryStatus.RECEIVED,
                "delivery_error": "",
                "raw_id": line.raw_record_id,
                "metadata": _strip_nul(line.metadata),
                "created_at": now,
            }
        )
    stored: list[StoredLine | None] = [None] * len(lines)
    if not rows:
        return stored
    message_ids = insert_rows(Message, rows, now)
    event_data = [
        {"message_id": pk, "author_kind": AuthorKind.CUSTOMER, "internal": False}
        for pk in message_ids
    ]
    event_ids = insert_rows(
        TicketEvent,
        [
            {
                "ticket_id": row["ticket_id"],
                "kind": EventKind.MESSAGE_ADDED,
                "actor_kind": AuthorKind.CUSTOMER,
                "actor_agent_id": None,
                "actor_customer_id": row["author_customer_id"],
                "data": data,
                "created_at": now,
            }
            for row, data in zip(rows, event_data, strict=True)
        ],
        now,
    )
    by_ticket: dict[int, list[str]] = {}
    changes: dict[int, TicketChange] = {}
    for i, text, message_id, event_id, data in zip(
        plain, texts, message_ids, event_ids, event_data, strict=True
    ):
        line = lines[i]
        stored[i] = StoredLine(message_id, line.ticket_id, text, now)
        by_ticket.setdefault(line.ticket_id, []).append(text)
        fields = fields_of[line.ticket_id]
        change = changes.setdefault(
            line.ticket_id,
            TicketChange(
                line.ticket_id,
                [],
                [],
                [],
                actor_kind=AuthorKind.CUSTOMER,
                channel=fields["channel"],
                fields=fields,
                # Chat lines reached the visitor's own session before they were stored.
                delivered_live=fields["channel"] == Channel.CHAT,
            ),
        )
        change.event_ids.append(event_id)
        change.kinds.append(EventKind.MESSAGE_ADDED)
        change.data.append(data)
    quote = ops.quote_name
    columns = {f.name: quote(f.column or f.name) for f in Ticket._meta.concrete_fields}
    # One statement for the tickets of a chunk: every line of the batch has the same time. Table
    # and column names come from the model; every value is a bound parameter.
    ids = sorted(by_ticket)
    with connection.cursor() as cursor:
        for start in range(0, len(ids), BULK_CHUNK):
            chunk = ids[start : start + BULK_CHUNK]
            cursor.execute(
                f"UPDATE {quote(Ticket._meta.db_table)} SET "  # noqa: S608
                f"{columns['last_customer_message_at']} = %s, "
                f"{columns['version']} = {columns['version']} + 1, {columns['updated_at']} = %s "
                f"WHERE {columns['id']} IN ({', '.join(['%s'] * len(chunk))})",
                [stamp, stamp, *chunk],
            )
    search.append_to_tickets({pk: "\n".join(parts) for pk, parts in by_ticket.items()})
    raw_ids = [row["raw_id"] for row in rows if row["raw_id"] is not None]
    if raw_ids:
        update_by_ids(
            RawInbound,
            raw_ids,
            {"state": RawInbound.State.PROCESSED, "processed_at": now, "error": ""},
        )
    announce_on_commit(list(changes.values()))
    return stored
