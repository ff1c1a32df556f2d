"""The demo data set's Twilio account and a few SMS conversations, so SMS can be tried without
Twilio (replies to them fail with a clear reason: the demo account's token is not real)."""

from __future__ import annotations

from urllib.parse import urlencode

from caredesk.accounts.models import Team
from caredesk.channels.sms import services
from caredesk.channels.sms.models import SmsAccount

DEMO_SLUG = "demo"
DEMO_NUMBER = "+14155550100"
DEMO_TEXTS = [
    (
        "+14155550111",
        "SMdemo0000000000000000000000000001",
        "Hi, my parcel says delivered but it is not here.",
    ),
    ("+14155550111", "SMdemo0000000000000000000000000002", "Tracking number 1Z999AA10123456784"),
    (
        "+14155550122",
        "SMdemo0000000000000000000000000003",
        "Can I change my delivery address by text?",
    ),
    ("+14155550133", "SMdemo0000000000000000000000000004", "Is the store open on Sunday?"),
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
    for sender, sid, body in DEMO_TEXTS:
        form = {"MessageSid": sid, "From": sender, "To": DEMO_NUMBER, "Body": body, "NumMedia": "0"}
        services.receive(account, urlencode(form).encode())
