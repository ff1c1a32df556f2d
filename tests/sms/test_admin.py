"""The admin page that connects a Twilio account, and the composer on SMS tickets."""

import pytest
from django.db import connection

from caredesk.channels.sms import services
from caredesk.channels.sms.models import SmsAccount
from caredesk.tickets.models import Ticket
from tests.sms.conftest import ACCOUNT_SID, text

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Main line",
    "account_sid": ACCOUNT_SID,
    "auth_token": "the-real-token",
    "phone_number": "+1 415 555 0100",
    "help_text": "We answer 9-5.",
    "active": "on",
}


def test_an_admin_connects_an_account_and_sees_the_webhook_urls(client, personas):
    client.force_login(personas.admin)
    page = client.get("/agent/admin/sms/").content.decode()
    assert "SMS (Twilio)" in page and 'name="auth_token"' in page and 'type="password"' in page
    response = client.post("/agent/admin/sms/", FORM)
    assert response.status_code == 302
    account = SmsAccount.objects.get()
    assert (account.slug, account.phone_number, account.auth_token) == (
        "main-line",
        "+14155550100",
        "the-real-token",
    )
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT auth_token FROM sms_channel_smsaccount")
        stored = cursor.fetchone()[0]
    assert stored.startswith("fernet:") and "the-real-token" not in stored
    edit = client.get(f"/agent/admin/sms/{account.pk}/").content.decode()
    assert "the-real-token" not in edit  # never shown again
    assert services.webhook_url("/sms/twilio/main-line/inbound/") in edit
    assert services.webhook_url("/sms/twilio/main-line/status/") in edit
    # Saved again with the token left blank: the token is kept.
    client.post(f"/agent/admin/sms/{account.pk}/", {**FORM, "auth_token": "", "name": "Line"})
    account.refresh_from_db()
    assert (account.name, account.auth_token) == ("Line", "the-real-token")


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("phone_number", "555-CALL-NOW", "is not a phone number; write it in E.164"),
        ("phone_number", "415 555 0100", "Write the number in E.164, with its country code"),
        ("account_sid", "AC123", "An account SID is AC followed by 32 hexadecimal digits."),
    ],
)
def test_a_bad_number_or_sid_is_refused_with_a_message(client, personas, field, value, error):
    client.force_login(personas.admin)
    response = client.post("/agent/admin/sms/", {**FORM, field: value})
    assert response.status_code == 422
    assert error in response.content.decode()
    assert not SmsAccount.objects.exists()


@pytest.mark.parametrize("persona", ["alice", "lead"])
def test_non_admins_are_refused(client, personas, persona):
    client.force_login(getattr(personas, persona))
    page = client.get("/agent/admin/sms/")
    assert page.status_code == 403 and 'name="account_sid"' not in page.content.decode()
    response = client.post("/agent/admin/sms/", FORM)
    assert response.status_code == 403 and not SmsAccount.objects.exists()


def test_the_composer_counts_segments_on_sms_tickets_only(client, account, personas):
    from caredesk.tickets import services as tickets

    text(client, account, "Hello", "SM" + "1" * 32)
    sms = Ticket.objects.get()
    email = tickets.create_ticket(
        personas.admin,
        subject="By mail",
        requester=sms.requester,
        body_text="Hi",
        channel="email",
    )
    client.force_login(personas.admin)
    page = client.get(f"/agent/tickets/{sms.pk}/").content.decode()
    assert 'data-sms-counter="composer-body"' in page and "agent/sms_segments.js" in page
    other = client.get(f"/agent/tickets/{email.pk}/").content.decode()
    assert "data-sms-counter" not in other and "sms_segments.js" not in other
