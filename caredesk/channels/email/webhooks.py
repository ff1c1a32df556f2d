"""Inbound mail from providers (Mailgun, Postmark, SendGrid, Amazon SES, ...) through
django-anymail's webhook views, which check each provider's signature or basic auth."""

from __future__ import annotations

from typing import Any

from anymail.signals import inbound
from django.dispatch import receiver

from caredesk.channels.email.services import receive


@receiver(inbound, dispatch_uid="caredesk-email-inbound")
def on_inbound(sender: Any, event: Any, esp_name: str, **kwargs: Any) -> None:
    message = event.message
    raw = message.as_bytes() if message is not None else b""
    recipients = [a.addr_spec for a in (message.to or [])] if message is not None else []
    receive(raw, recipients=recipients, source=f"webhook:{esp_name.lower()}")
