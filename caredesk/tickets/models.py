"""Tickets (conversations), their messages, attachments, links, custom fields and the event log."""

from __future__ import annotations

import zlib
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


# Which status may follow which. Closed is final: a customer writing again starts a follow-up.
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.OPEN: {Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.PENDING: {Status.OPEN, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.ON_HOLD: {Status.OPEN, Status.PENDING, Status.SOLVED, Status.CLOSED},
    Status.SOLVED: {Status.OPEN, Status.CLOSED},
    Status.CLOSED: set(),
}
ACTIVE_STATUSES = [Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD]


class Priority(models.IntegerChoices):
    LOW = 0, "low"
    NORMAL = 1, "normal"
    HIGH = 2, "high"
    URGENT = 3, "urgent"


PRIORITY_BY_NAME = {label: value for value, label in Priority.choices}


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    CHAT = "chat", "Live chat"
    PHONE = "phone", "Phone"
    SMS = "sms", "SMS"
    WHATSAPP = "whatsapp", "WhatsApp"
    MESSENGER = "messenger", "Messenger"
    TELEGRAM = "telegram", "Telegram"
    WEB = "web", "Web form"
    API = "api", "API"


class Tag(models.Model):
    name = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FieldType(models.TextChoices):
    TEXT = "text", "Text"
    NUMBER = "number", "Number"
    BOOLEAN = "boolean", "Yes/no"
    DATE = "date", "Date"
    CHOICE = "choice", "Choice"


class CustomField(models.Model):
    """An admin-defined, typed ticket field; values live in Ticket.custom_fields[key]."""

    key = models.SlugField(max_length=64, unique=True)
    label = models.CharField(max_length=100)
    field_type = models.CharField(max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    choices = models.JSONField(default=list, blank=True)
    required = models.BooleanField(default=False)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "key"]

    def __str__(self) -> str:
        return self.label


class Ticket(models.Model):
    subject = models.CharField(max_length=255)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.PositiveSmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    channel = models.CharField(max_length=12, choices=Channel.choices, default=Channel.API)
    # Indexed by ticket_requester_created, which starts with it.
    requester = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="tickets", db_index=False
    )
    # Indexed by ticket_organization, over the tickets that have one (see Meta).
    organization = models.ForeignKey(
        "customers.Organization",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=False,
    )
    # No index of its own on team and assignee: the composite indexes below start with them (a
    # second index only made every assignment write one more B-tree entry).
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tickets",
        db_index=False,
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_tickets",
        db_index=False,
    )
    tags = models.ManyToManyField(Tag, blank=True, related_name="tickets")
    custom_fields = models.JSONField(default=dict, blank=True)
    category = models.CharField(max_length=100, blank=True)
    language = models.CharField(max_length=10, blank=True)
    followers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="followed_tickets"
    )
    cc = models.ManyToManyField("customers.Customer", blank=True, related_name="cc_tickets")
    # Indexed by ticket_merged_into, over the merged tickets only (see Meta).
    merged_into = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="merged_from",
        db_index=False,
    )
    # An opaque conversation key from the channel (chat session, SMS thread) used for threading.
    # Indexed by ticket_thread_key (see Meta): looked up by equality only, so without the second,
    # pattern-matching index PostgreSQL adds for an indexed text field.
    thread_key = models.CharField(max_length=255, blank=True)
    restricted = models.BooleanField(
        default=False, help_text="Visible only to leads/admins and the assignee"
    )
    # Optimistic concurrency: an edit made against an older version is refused, never overwritten.
    version = models.PositiveIntegerField(default=1)
    reopened_count = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    last_customer_message_at = models.DateTimeField(null=True, blank=True)
    last_agent_message_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["status", "updated_at", "id"], name="ticket_status_updated"),
            models.Index(
                fields=["team", "status", "updated_at", "id"], name="ticket_team_status_updated"
            ),
            models.Index(
                fields=["assignee", "status", "updated_at", "id"], name="ticket_assignee_status_upd"
            ),
            models.Index(fields=["requester", "created_at"], name="ticket_requester_created"),
            models.Index(fields=["updated_at", "id"], name="ticket_updated"),
            models.Index(fields=["thread_key"], name="ticket_thread_key"),
            # Most tickets have neither: an index of the NULLs only cost every write an entry
            # (an assignment rewrites every index entry of the row on PostgreSQL).
            models.Index(
                fields=["merged_into"],
                name="ticket_merged_into",
                condition=models.Q(merged_into__isnull=False),
            ),
            models.Index(
                fields=["organization"],
                name="ticket_organization",
                condition=models.Q(organization__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def number(self) -> int:
        return self.pk

    @property
    def priority_name(self) -> str:
        return Priority(self.priority).label

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class DeliveryStatus(models.TextChoices):
    NONE = "none", "Not sent"
    RECEIVED = "received", "Received"
    QUEUED = "queued", "Queued"
    SENT = "sent", "Sent"
    DELIVERED = "delivered", "Delivered"
    READ = "read", "Read"
    FAILED = "failed", "Failed"


class AuthorKind(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    BOT = "bot", "Bot"
    SYSTEM = "system", "System"


class RawInbound(models.Model):
    """Every inbound payload as received (compressed): the source of truth, and the quarantine."""

    class State(models.TextChoices):
        PROCESSED = "processed", "Processed"
        QUARANTINED = "quarantined", "Quarantined"
        IGNORED = "ignored", "Ignored"

    channel = models.CharField(max_length=12, choices=Channel.choices)
    external_id = models.CharField(max_length=255, blank=True, db_index=True)
    payload_compressed = models.BinaryField()
    size = models.PositiveIntegerField(default=0)
    state = models.CharField(
        max_length=12, choices=State.choices, default=State.PROCESSED, db_index=True
    )
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1)
    metadata = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    @property
    def payload(self) -> bytes:
        return zlib.decompress(bytes(self.payload_compressed))

    @staticmethod
    def compress(payload: bytes) -> bytes:
        return zlib.compress(payload, 6)


class Message(models.Model):
    # Indexed by message_ticket_created, which starts with it.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="messages", db_index=False
    )
    author_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    author_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    author_customer = models.ForeignKey(
        "customers.Customer",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    internal = models.BooleanField(
        default=False, help_text="An internal note, never shown to the customer"
    )
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Sanitized HTML")
    channel = models.CharField(max_length=12, choices=Channel.choices, blank=True)
    # The channel's own id for this message (email Message-ID, provider event id): the idempotency key.
    external_id = models.CharField(max_length=255, blank=True)
    delivery_status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.NONE
    )
    delivery_error = models.TextField(blank=True)
    raw = models.ForeignKey(
        RawInbound, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["channel", "external_id"],
                condition=~Q(external_id=""),
                name="message_unique_external_id",
            )
        ]
        indexes = [
            models.Index(fields=["ticket", "created_at", "id"], name="message_ticket_created")
        ]

    def __str__(self) -> str:
        return f"Message {self.pk} on #{self.ticket_id}"


class Attachment(models.Model):
    message = models.ForeignKey(
        Message, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments"
    )
    file = models.FileField(upload_to="attachments/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    content_id = models.CharField(max_length=255, blank=True, help_text="For inline (cid:) images")
    inline = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class LinkKind(models.TextChoices):
    RELATED = "related", "Related"
    DUPLICATE = "duplicate", "Duplicate of"
    FOLLOW_UP = "follow_up", "Follow-up of"
    SPLIT_FROM = "split_from", "Split from"


class TicketLink(models.Model):
    source = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_out")
    target = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="links_in")
    kind = models.CharField(max_length=12, choices=LinkKind.choices, default=LinkKind.RELATED)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "target", "kind"], name="ticket_link_unique")
        ]


class EventKind(models.TextChoices):
    CREATED = "created", "Created"
    STATUS_CHANGED = "status_changed", "Status changed"
    ASSIGNED = "assigned", "Assigned"
    TEAM_CHANGED = "team_changed", "Team changed"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    FIELD_CHANGED = "field_changed", "Field changed"
    TAGS_CHANGED = "tags_changed", "Tags changed"
    MESSAGE_ADDED = "message_added", "Message added"
    NOTE_ADDED = "note_added", "Note added"
    MERGED = "merged", "Merged into another ticket"
    MERGED_IN = "merged_in", "Another ticket merged in"
    SPLIT = "split", "Split"
    LINKED = "linked", "Linked"
    FOLLOWER_ADDED = "follower_added", "Follower added"
    FOLLOWER_REMOVED = "follower_removed", "Follower removed"
    CC_ADDED = "cc_added", "CC added"
    REOPENED = "reopened", "Reopened"
    ESCALATED = "escalated", "Escalated"
    SLA = "sla", "SLA"
    DELIVERY = "delivery", "Delivery status"
    VIEWED = "viewed", "Viewed"
    SURVEY_ANSWERED = "survey_answered", "Survey answered"


class TicketEvent(models.Model):
    """Append-only: the ticket timeline, the audit trail and analytics all read from here."""

    # Indexed by event_ticket_id, which starts with it.
    ticket = models.ForeignKey(
        Ticket, on_delete=models.CASCADE, related_name="events", db_index=False
    )
    kind = models.CharField(max_length=20, choices=EventKind.choices)
    actor_kind = models.CharField(max_length=10, choices=AuthorKind.choices)
    actor_agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["ticket", "id"], name="event_ticket_id"),
            models.Index(fields=["kind", "created_at"], name="event_kind_created"),
        ]

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Ticket events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Ticket events are append-only.")
