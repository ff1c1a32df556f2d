"""Routing configuration per team, skill rules, and per-agent routing state."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class RoutingMethod(models.TextChoices):
    ROUND_ROBIN = "round_robin", "Round robin"
    LEAST_LOADED = "least_loaded", "Least loaded"
    LONGEST_IDLE = "longest_idle", "Longest idle"


class TeamRouting(models.Model):
    team = models.OneToOneField("accounts.Team", on_delete=models.CASCADE, related_name="routing")
    auto_assign = models.BooleanField(
        default=True, help_text="Push: assign new tickets; otherwise agents pull"
    )
    method = models.CharField(
        max_length=14, choices=RoutingMethod.choices, default=RoutingMethod.LEAST_LOADED
    )

    def __str__(self) -> str:
        return f"Routing of {self.team}"


class SkillRule(models.Model):
    """A ticket matching `field == value` requires `skill` (and optionally a minimum tier)."""

    FIELDS = [
        ("category", "Category"),
        ("channel", "Channel"),
        ("language", "Language"),
        ("tag", "Tag"),
        ("vip", "VIP customer"),
    ]
    field = models.CharField(max_length=10, choices=FIELDS)
    value = models.CharField(max_length=100, blank=True)
    skill = models.ForeignKey("accounts.Skill", null=True, blank=True, on_delete=models.CASCADE)
    min_tier = models.CharField(max_length=10, blank=True)

    def __str__(self) -> str:
        return f"{self.field}={self.value} -> {self.skill or self.min_tier}"


class AgentRoutingState(models.Model):
    agent = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="routing_state"
    )
    last_assigned_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"routing state of {self.agent}"
