"""Mailboxes (support addresses, optional IMAP/POP3 polling) and editable email templates."""

from __future__ import annotations

from django.db import models

from caredesk.core.crypto import EncryptedTextField


class Mailbox(models.Model):
    class Protocol(models.TextChoices):
        NONE = "", "Receive by SMTP or webhook only"
        IMAP = "imap", "Poll with IMAP"
        POP3 = "pop3", "Poll with POP3"

    address = models.EmailField(unique=True)
    name = models.CharField(max_length=100, blank=True, help_text="Display name in From")
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL)
    signature = models.TextField(blank=True)
    active = models.BooleanField(default=True)
    auto_acknowledge = models.BooleanField(default=True)
    protocol = models.CharField(max_length=4, choices=Protocol.choices, blank=True, default="")
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    use_ssl = models.BooleanField(default=True)
    username = models.CharField(max_length=255, blank=True)
    password = EncryptedTextField(blank=True)
    folder = models.CharField(max_length=255, default="INBOX")
    processed_folder = models.CharField(
        max_length=255, blank=True, help_text="Move processed mail here (IMAP)"
    )
    last_uid = models.CharField(max_length=64, blank=True)
    last_polled_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "mailboxes"

    def __str__(self) -> str:
        return self.address


class SeenRemoteMessage(models.Model):
    """A message already taken from a polled mailbox (IMAP UID with UIDVALIDITY, or POP3 UIDL)."""

    mailbox = models.ForeignKey(Mailbox, on_delete=models.CASCADE, related_name="seen")
    key = models.CharField(max_length=255)
    seen_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["mailbox", "key"], name="seen_remote_unique")
        ]


class EmailTemplate(models.Model):
    """Editable texts for automatic mail. Placeholders: {ticket_number}, {subject}, {customer_name}."""

    key = models.SlugField(max_length=50, unique=True)
    subject = models.CharField(max_length=255)
    body = models.TextField()

    def __str__(self) -> str:
        return self.key
