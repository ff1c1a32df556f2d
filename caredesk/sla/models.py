"""SLA policies, business hours with holidays, and each ticket's SLA clocks."""

from __future__ import annotations

from django.db import models


class BusinessHours(models.Model):
    """Opening hours of a team in its time zone. schedule: {"0": [["09:00", "17:00"]], ...} with
    0 = Monday; holidays from the `holidays` library for `country`, plus custom dates."""

    name = models.CharField(max_length=100)
    team = models.OneToOneField(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="business_hours",
    )
    time_zone = models.CharField(max_length=64, default="UTC")
    schedule = models.JSONField(default=dict)
    country = models.CharField(
        max_length=8, blank=True, help_text="ISO code for public holidays, e.g. US, DE"
    )
    subdivision = models.CharField(max_length=8, blank=True)
    custom_holidays = models.JSONField(default=list, blank=True, help_text="Dates as YYYY-MM-DD")

    def __str__(self) -> str:
        return self.name


class SlaPolicy(models.Model):
    """Targets in business minutes for tickets matching the conditions (first match by position)."""

    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    active = models.BooleanField(default=True)
    # {"priority": ["urgent"], "channel": ["email"], "tags": ["vip"], "organization": [3], "vip": true}
    conditions = models.JSONField(default=dict, blank=True)
    first_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    next_response_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolution_minutes = models.PositiveIntegerField(null=True, blank=True)
    business_hours = models.ForeignKey(
        BusinessHours,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        help_text="Empty: the ticket team's hours, else around the clock",
    )
    pause_statuses = models.JSONField(
        default=list, blank=True, help_text='e.g. ["pending", "on_hold"]'
    )
    warn_before_minutes = models.PositiveIntegerField(default=30)

    class Meta:
        ordering = ["position", "id"]
        verbose_name_plural = "SLA policies"

    def __str__(self) -> str:
        return self.name


class TicketSla(models.Model):
    ticket = models.OneToOneField("tickets.Ticket", on_delete=models.CASCADE, related_name="sla")
    policy = models.ForeignKey(SlaPolicy, null=True, on_delete=models.SET_NULL)
    first_response_due = models.DateTimeField(null=True, blank=True)
    next_response_due = models.DateTimeField(null=True, blank=True)
    resolution_due = models.DateTimeField(null=True, blank=True)
    # The earliest target still open: what the inbox sorts and filters on.
    next_due = models.DateTimeField(null=True, blank=True, db_index=True)
    paused_since = models.DateTimeField(null=True, blank=True)
    warned = models.BooleanField(default=False)
    breached = models.BooleanField(default=False, db_index=True)
    breaches = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"SLA of #{self.ticket_id}"
