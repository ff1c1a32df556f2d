"""Audit log (append-only) and retention policies."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models


class AuditEntry(models.Model):
    """Who did what, when: sign-ins, permission changes, exports, erasures, restricted views."""

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=320, blank=True, help_text="Email or name at the time"
    )
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["target_type", "target_id"], name="audit_target")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None:
            raise RuntimeError("Audit entries are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise RuntimeError("Audit entries are append-only.")


class RetentionAction(models.TextChoices):
    DELETE = "delete", "Delete tickets and attachments"
    ANONYMIZE = "anonymize", "Anonymise tickets, delete attachments"


class RetentionPolicy(models.Model):
    """Solved/closed tickets older than `days` (per team and/or channel) are deleted or anonymised."""

    name = models.CharField(max_length=100)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.CASCADE)
    channel = models.CharField(max_length=12, blank=True)
    days = models.PositiveIntegerField()
    action = models.CharField(
        max_length=10, choices=RetentionAction.choices, default=RetentionAction.ANONYMIZE
    )
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name_plural = "retention policies"

    def __str__(self) -> str:
        return self.name
