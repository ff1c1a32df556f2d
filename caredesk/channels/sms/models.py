"""Twilio accounts (one per sending number) and the phone numbers that opted out of SMS."""

from __future__ import annotations

from django.db import models
from django.urls import reverse

from caredesk.core.crypto import EncryptedTextField


class SmsAccount(models.Model):
    """A Twilio account and the number caredesk answers from; its slug names its webhooks."""

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=50, unique=True)
    account_sid = models.CharField(max_length=64)
    auth_token = EncryptedTextField(blank=True)
    phone_number = models.CharField(max_length=20, help_text="E.164, e.g. +14155550100")
    messaging_service_sid = models.CharField(max_length=64, blank=True)
    help_text = models.TextField(blank=True)
    team = models.ForeignKey("accounts.Team", null=True, blank=True, on_delete=models.SET_NULL)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.phone_number})"

    @property
    def inbound_path(self) -> str:
        return reverse("sms:inbound", args=[self.slug])

    @property
    def status_path(self) -> str:
        return reverse("sms:status", args=[self.slug])


class SmsOptOut(models.Model):
    """A phone number that texted STOP (or another opt-out keyword): nothing is sent to it until it
    texts START. Kept by number, not by customer, as carriers and Twilio do."""

    phone_number = models.CharField(max_length=20, unique=True)
    keyword = models.CharField(max_length=20)
    opted_out_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.phone_number
