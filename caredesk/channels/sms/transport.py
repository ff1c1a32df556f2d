"""SMS out through Twilio's REST API (Messages.json), and how its errors are told apart.

Two kinds of delivery: "reply" (an agent's or bot's public message, read from it when sent) and
every other kind (the HELP answer), whose text is in the payload. A number that opted out is
refused here, permanently, whatever queued the text.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from django.conf import settings

from caredesk.channels.base import Transport, TransportError
from caredesk.channels.sms import services
from caredesk.channels.sms.models import SmsAccount
from caredesk.core.models import Delivery
from caredesk.tickets.models import Channel, Message

TIMEOUT_SECONDS = 15
# Twilio error codes that no retry can fix (the number, not the moment, is the problem).
PERMANENT_CODES = {
    21211: "the number is not a valid phone number",
    21408: "SMS to this region is not enabled on the Twilio account",
    21610: "the recipient has unsubscribed (texted STOP)",
    21612: "Twilio cannot route a text to this number",
    21614: "the number cannot receive SMS",
}


def classify(status: int, body: bytes) -> TransportError:
    """An HTTP error from Twilio: 429 and 5xx are worth another try, other 4xx are not."""
    try:
        data: dict[str, Any] = json.loads(body or b"{}")
    except ValueError:
        data = {}
    code = data.get("code")
    detail = str(data.get("message") or body[:200].decode(errors="replace")).strip()
    why = PERMANENT_CODES.get(code) if isinstance(code, int) else None
    text = f"Twilio answered {status}" + (f", error {code}" if code else "") + f": {detail}"
    if why:
        text += f" ({why})"
    temporary = status == 429 or status >= 500
    return TransportError(text, permanent=not temporary)


class TwilioTransport(Transport):
    channel = Channel.SMS

    def deliver(self, delivery: Delivery) -> str:
        message: Message | None = None
        if delivery.kind == "reply" and delivery.message is not None:
            message = Message.objects.select_related("ticket").get(pk=delivery.message.pk)
            if message.external_id:  # an earlier try reached Twilio: never send twice
                return message.external_id
            body = message.body_text
            account = services.account_for_ticket(message.ticket)
        else:
            body = str(delivery.payload.get("body", ""))
            account = SmsAccount.objects.filter(pk=delivery.payload.get("account")).first()
        to = delivery.recipient
        if not to:
            raise TransportError("The customer has no phone number to text.", permanent=True)
        opt_out = services.opted_out(to)
        if opt_out is not None:
            raise TransportError(
                f"Not sent: {to} opted out of SMS (texted {opt_out.keyword} on "
                f"{opt_out.opted_out_at:%Y-%m-%d}); they must text START to receive texts again.",
                permanent=True,
            )
        if account is None:
            raise TransportError("No SMS account is set up (Admin → SMS).", permanent=True)
        sid = self.send(account, to, body)
        if message is not None:
            # Kept at once: the status callbacks find the message by it, and a retry sees it.
            Message.objects.filter(pk=message.pk).update(external_id=sid)
        return sid

    def send(self, account: SmsAccount, to: str, body: str) -> str:
        form = {"To": to, "Body": body}
        if account.messaging_service_sid:
            form["MessagingServiceSid"] = account.messaging_service_sid
        else:
            form["From"] = account.phone_number
        form["StatusCallback"] = services.webhook_url(account.status_path)
        url = (
            f"{settings.CAREDESK_TWILIO_API_BASE.rstrip('/')}/2010-04-01/Accounts/"
            f"{account.account_sid}/Messages.json"
        )
        request = urllib.request.Request(  # noqa: S310 - the configured Twilio API base
            url, data=urlencode(form).encode(), method="POST", headers=auth_headers(account)
        )
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:  # noqa: S310
                data = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise classify(exc.code, exc.read()) from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise TransportError(f"Twilio could not be reached: {exc}") from exc
        except ValueError as exc:
            raise TransportError(f"Twilio's answer was not JSON: {exc}") from exc
        sid = str(data.get("sid") or "")
        if not sid:
            raise TransportError("Twilio's answer carried no message sid.")
        return sid


def auth_headers(account: SmsAccount) -> dict[str, str]:
    token = base64.b64encode(f"{account.account_sid}:{account.auth_token}".encode()).decode()
    return {"Authorization": f"Basic {token}", "Accept": "application/json"}
