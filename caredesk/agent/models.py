"""Workspace-only records: an agent's saved inbox views, notifications, an admin's hidden setup
checklist."""

from django.conf import settings
from django.db import models


class SavedView(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    view = models.CharField(max_length=20, default="team")
    filters = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_view_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class ChecklistDismissal(models.Model):
    """An admin hid the first-run checklist. Only the hiding is stored: whether each step is
    done is always read from the data itself (`agent.checklist`)."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="checklist_dismissal"
    )
    dismissed_at = models.DateTimeField(auto_now_add=True)


class Notification(models.Model):
    """Something an agent should look at (a colleague mentioned them in a note): the header's
    bell counts the unread ones."""

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=20, default="mention")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    message = models.ForeignKey(
        "tickets.Message", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    text = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["recipient", "read_at"], name="notification_unread"),
            models.Index(fields=["recipient", "-created_at"], name="notification_recent"),
        ]

    def __str__(self) -> str:
        return self.text


class ComposerImage(models.Model):
    """An image inserted or pasted into an agent's composer before the reply is sent: its
    Attachment has no message yet and only the agent who uploaded it may fetch it. Sending a
    reply that references it (`cid:`) moves the attachment onto the reply as an inline image."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="composer_images"
    )
    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="+")
    attachment = models.OneToOneField(
        "tickets.Attachment", on_delete=models.CASCADE, related_name="composer_image"
    )
    created_at = models.DateTimeField(auto_now_add=True)
