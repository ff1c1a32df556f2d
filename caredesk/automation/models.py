"""Triggers (event-condition-action), time-based automations, macros and canned responses."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Trigger(models.Model):
    """On ticket events: if every condition holds, run the actions.
    conditions: [{"field": "priority", "op": "is", "value": "urgent"}, ...]
    actions: [{"type": "set", "field": "priority", "value": "high"}, {"type": "add_tags", "value": ["x"]},
              {"type": "assign_team", "value": 2}, {"type": "reply", "value": "text"},
              {"type": "note", "value": "text"}, {"type": "escalate", "value": "reason"},
              {"type": "webhook", "value": "https://..."}, {"type": "notify_email", "value": "lead@x"}]"""

    name = models.CharField(max_length=100)
    events = models.JSONField(default=list, help_text='e.g. ["created", "message_added", "sla"]')
    conditions = models.JSONField(default=list, blank=True)
    actions = models.JSONField(default=list)
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)
    # Processes keep compiled triggers in memory and reload them when this moves.
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class Automation(models.Model):
    """Time-based: tickets in `status` untouched for `hours` get the actions (once per period)."""

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=10)
    hours = models.PositiveIntegerField()
    actions = models.JSONField(default=list)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return self.name


class Macro(models.Model):
    """A reply template plus field changes, applied in one click. owner empty = shared."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="macros",
    )
    reply = models.TextField(blank=True)
    internal = models.BooleanField(default=False)
    changes = models.JSONField(
        default=dict, blank=True, help_text='e.g. {"status": "pending", "tags": ["refund"]}'
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CannedResponse(models.Model):
    """A snippet; typing ::shortcut in the composer expands it."""

    shortcut = models.SlugField(max_length=40)
    title = models.CharField(max_length=100)
    body = models.TextField()
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="snippets",
    )

    class Meta:
        ordering = ["shortcut"]
        constraints = [
            models.UniqueConstraint(fields=["shortcut", "owner"], name="snippet_unique_shortcut")
        ]

    def __str__(self) -> str:
        return self.shortcut
