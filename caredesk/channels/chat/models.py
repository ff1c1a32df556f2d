"""Live chat: the widgets a site embeds and the chat sessions visitors hold with agents.

The conversation itself is a ticket (channel "chat"): every message is a ticket Message, so the
transcript, the timeline, search and analytics need nothing chat-specific.
"""

from __future__ import annotations

import secrets
import uuid

from django.db import models

from caredesk.accounts.models import Team, User
from caredesk.core.crypto import EncryptedTextField
from caredesk.customers.models import Customer
from caredesk.tickets.models import Ticket


def _widget_key() -> str:
    return secrets.token_urlsafe(12)


class WidgetPosition(models.TextChoices):
    RIGHT = "right", "Bottom right"
    LEFT = "left", "Bottom left"


class ChatWidget(models.Model):
    """One embeddable widget: its look, who answers it and which sites may embed it."""

    name = models.CharField(max_length=100)
    key = models.SlugField(max_length=64, unique=True, default=_widget_key)
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    allowed_origins = models.JSONField(
        default=list,
        blank=True,
        help_text='Origins that may embed the widget, e.g. ["https://shop.example"]. '
        "caredesk's own host is always allowed.",
    )
    identity_secret = EncryptedTextField(
        blank=True, help_text="HMAC-SHA256 secret the embedding site signs its user ids with."
    )
    color = models.CharField(max_length=7, default="#1d4ed8")
    greeting = models.CharField(max_length=200, default="Hi! How can we help?")
    position = models.CharField(
        max_length=5, choices=WidgetPosition.choices, default=WidgetPosition.RIGHT
    )
    ask_name = models.BooleanField(default=True)
    require_email = models.BooleanField(default=True)
    topics = models.JSONField(default=list, blank=True, help_text="Choices for the topic field.")
    offline_message = models.CharField(
        max_length=200,
        default="We are away right now. Leave a message and we will answer by email.",
    )
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class ChatStatus(models.TextChoices):
    WAITING = "waiting", "Waiting for an agent"
    ACTIVE = "active", "With an agent"
    ENDED = "ended", "Ended"


class ChatSession(models.Model):
    """One live conversation between a visitor and (after acceptance) one agent."""

    token = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    widget = models.ForeignKey(ChatWidget, on_delete=models.CASCADE, related_name="sessions")
    visitor_id = models.CharField(max_length=64, db_index=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="chats")
    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="chat")
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    status = models.CharField(max_length=8, choices=ChatStatus.choices, default=ChatStatus.WAITING)
    agent = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="chats"
    )
    offered_to = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="chat_offers"
    )
    offered_at = models.DateTimeField(null=True, blank=True)
    declined_by = models.JSONField(default=list, blank=True)
    topic = models.CharField(max_length=100, blank=True)
    transcript_email = models.EmailField(blank=True)
    visitor_read_upto = models.BigIntegerField(default=0)
    agent_read_upto = models.BigIntegerField(default=0)
    started_at = models.DateTimeField(auto_now_add=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.CharField(max_length=10, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "team"], name="chat_status_team"),
            models.Index(fields=["widget", "visitor_id", "status"], name="chat_visitor"),
        ]

    def __str__(self) -> str:
        return f"Chat {self.token} ({self.status})"

    @property
    def group(self) -> str:
        return f"chat.{self.token.hex}"
