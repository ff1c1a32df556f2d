"""CSAT surveys: the workspace's survey settings and one row per survey sent to a customer."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from caredesk.tickets.models import Channel

DEFAULT_QUESTION = "How would you rate the support you received?"
DEFAULT_FOLLOW_UP = "\n".join(
    [
        "It took too long",
        "My problem was not solved",
        "The answer was unclear",
        "The agent was unfriendly",
        "Something else",
    ]
)


def default_channels() -> list[str]:
    return list(Channel.values)


class SurveySettings(models.Model):
    """The one row of survey settings (pk 1), edited on Admin → CSAT surveys."""

    enabled = models.BooleanField(default=True)
    delay_minutes = models.PositiveIntegerField(default=60)
    once_per_days = models.PositiveIntegerField(default=7)
    question = models.CharField(max_length=300, default=DEFAULT_QUESTION)
    follow_up_choices = models.TextField(default=DEFAULT_FOLLOW_UP)
    channels = models.JSONField(default=default_channels)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "CSAT survey settings"

    @property
    def follow_up_list(self) -> list[str]:
        return [line.strip() for line in self.follow_up_choices.splitlines() if line.strip()]


class Survey(models.Model):
    """One CSAT survey about one solved ticket: scheduled on solve, sent by a job, answered on
    its public page (one answer per survey; answering again replaces it)."""

    class State(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Not sent"

    ticket = models.ForeignKey(
        "tickets.Ticket", on_delete=models.CASCADE, related_name="surveys", db_index=False
    )
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="surveys", db_index=False
    )
    # Who solved the ticket and on which channel it came: what the report groups by.
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    channel = models.CharField(max_length=16, choices=Channel.choices)
    # How it reached the customer: "email" or "chat" (rating buttons in the open chat).
    sent_via = models.CharField(max_length=16, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.SCHEDULED)
    skip_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    score = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    comment = models.TextField(blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["customer", "created_at"], name="survey_customer_recent"),
            models.Index(fields=["ticket"], name="survey_ticket"),
            models.Index(fields=["sent_at"], name="survey_sent_at"),
        ]

    def __str__(self) -> str:
        return f"Survey #{self.pk} on ticket #{self.ticket_id}"
