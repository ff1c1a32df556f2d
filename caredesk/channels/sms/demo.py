"""The demo data set's Twilio account and a few SMS conversations, so SMS can be tried without
Twilio (a reply to them fails with a clear reason: the demo account's token is not real)."""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.utils import timezone

from caredesk.accounts.models import Team
from caredesk.channels.sms import services
from caredesk.channels.sms.models import SmsAccount
from caredesk.tickets.models import Message, Ticket, TicketEvent

DEMO_SLUG = "demo"
DEMO_NUMBER = "+14155550100"
# (sender, MessageSid, text, minutes ago): recent work, so it shows at the top of the inbox.
DEMO_TEXTS = [
    ("+14155550111", "SM" + "d" * 31 + "1", "Hi, my parcel says delivered but it is not here.", 95),
    ("+14155550111", "SM" + "d" * 31 + "2", "Tracking number ends in 784", 80),
    ("+14155550122", "SM" + "d" * 31 + "3", "Can I change my delivery address by text?", 240),
    ("+14155550133", "SM" + "d" * 31 + "4", "Is the store open on Sunday?", 45),
]


def create_demo_sms() -> None:
    account, _ = SmsAccount.objects.get_or_create(
        slug=DEMO_SLUG,
        defaults={
            "name": "Demo SMS",
            "account_sid": "AC" + "0" * 32,
            "auth_token": "demo-token-not-real",
            "phone_number": DEMO_NUMBER,
            "team": Team.objects.filter(slug="orders").first(),
        },
    )
    now = timezone.now()
    added: dict[int, list[tuple[int, timedelta]]] = {}
    for sender, sid, body, minutes in DEMO_TEXTS:
        form = {"MessageSid": sid, "From": sender, "To": DEMO_NUMBER, "Body": body, "NumMedia": "0"}
        received = services.receive(account, urlencode(form).encode())
        if received.outcome == "ticket" and received.message is not None:
            added.setdefault(received.message.ticket_id, []).append(
                (received.message.pk, timedelta(minutes=minutes))
            )
    for ticket_id, messages in added.items():
        _date_in_the_past(ticket_id, messages, now)


def _date_in_the_past(ticket_id: int, messages: list[tuple[int, timedelta]], now: datetime) -> None:
    """Each text at its time, the ticket's events with the text they followed, and the SLA clock
    from the first text (the demo loads in one transaction, before any clock would start)."""
    from caredesk.sla.services import start

    times = [(pk, now - age) for pk, age in messages]
    for pk, at in times:
        Message.objects.filter(pk=pk).update(created_at=at)
    first, last = times[0][1], times[-1][1]
    events = TicketEvent.objects.filter(ticket_id=ticket_id).order_by("id")
    at_message = dict(times)
    for event_id, data in events.values_list("id", "data"):
        # A message's event at its time; the others (created, routed) at the first text's.
        message_id = data.get("message_id", 0) if isinstance(data, dict) else 0
        at = at_message.get(int(message_id or 0), first)
        TicketEvent.objects.filter(pk=event_id).update(created_at=at)
    Ticket.objects.filter(pk=ticket_id).update(
        created_at=first, updated_at=last, last_customer_message_at=last
    )
    start(Ticket.objects.get(pk=ticket_id), now, since=first)
