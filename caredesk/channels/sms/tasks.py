"""Jobs: MMS pictures fetched from Twilio after the text was stored (never inside the webhook)."""

from __future__ import annotations

import logging
import mimetypes
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from huey.contrib.djhuey import db_task

from caredesk.channels.sms.models import SmsAccount
from caredesk.channels.sms.transport import auth_headers
from caredesk.core.errors import DomainError
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Message

logger = logging.getLogger("caredesk.sms")
MEDIA_TIMEOUT_SECONDS = 20


def media_url(url: str) -> str:
    """Twilio's media URL re-rooted on the configured API base: only the provider is fetched from
    (a forged URL cannot make caredesk fetch another host), and tests never reach the internet."""
    parts = urlsplit(url)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return settings.CAREDESK_TWILIO_API_BASE.rstrip("/") + path


def fetch_media(message_id: int) -> int:
    """Fetch a text's pictures and attach them; a failed fetch keeps the message and is noted
    on it. Returns how many were attached."""
    message = Message.objects.filter(pk=message_id).select_related("ticket").first()
    if message is None:
        return 0
    account = SmsAccount.objects.filter(pk=message.metadata.get("sms_account")).first()
    if message.attachments.exists():  # fetched already (a repeated job)
        return 0
    errors: list[str] = []
    attached = 0
    for index, media in enumerate(message.metadata.get("media", [])):
        content_type = str(media.get("content_type") or "application/octet-stream")
        extension = mimetypes.guess_extension(content_type.split(";")[0].strip()) or ".bin"
        filename = f"picture-{index + 1}{extension}"
        request = urllib.request.Request(  # noqa: S310 - the configured Twilio API base
            media_url(str(media.get("url", ""))),
            headers=auth_headers(account) if account is not None else {},
        )
        try:
            with urllib.request.urlopen(request, timeout=MEDIA_TIMEOUT_SECONDS) as response:  # noqa: S310
                content = response.read(settings.CAREDESK_MAX_ATTACHMENT_BYTES + 1)
            upload = tickets.InboundAttachment(filename, content_type, content)
            tickets.store_attachment(message, upload)
            attached += 1
        except (urllib.error.URLError, OSError, DomainError) as exc:
            reason = getattr(exc, "message", None) or str(exc)
            errors.append(f"{filename} ({content_type}) could not be fetched from Twilio: {reason}")
            logger.warning("SMS message %s: media %d not fetched: %s", message_id, index, reason)
    if errors:
        metadata = {**message.metadata, "media_errors": errors}
        Message.objects.filter(pk=message.pk).update(metadata=metadata)
    return attached


@db_task(retries=0)
def fetch_media_task(message_id: int) -> int:
    return fetch_media(message_id)
