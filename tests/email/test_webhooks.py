"""Provider inbound webhooks through django-anymail, with each provider's documented payload and
its real signature check (Mailgun HMAC; Postmark, SendGrid and SES basic auth)."""

import base64
import hashlib
import hmac
import json
import time

import pytest

from caredesk.tickets.models import Message, Ticket
from tests.email.mail import SUPPORT, make

pytestmark = pytest.mark.django_db

SIGNING_KEY = "key-0123456789abcdef"
BASIC = "hook:s3cret-s3cret"


@pytest.fixture(autouse=True)
def anymail_settings(settings, mailbox):
    settings.ANYMAIL = {"MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY, "WEBHOOK_SECRET": BASIC}


def auth_header(secret=BASIC):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def mailgun_fields(raw, key=SIGNING_KEY):
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(key.encode(), (timestamp + token).encode(), hashlib.sha256).hexdigest()
    return {
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
        "body-mime": raw.decode(),
        "recipient": SUPPORT,
        "sender": "jo@example.test",
    }


def test_mailgun_signed_inbound_creates_a_ticket(client):
    response = client.post(
        "/email/anymail/mailgun/inbound/",
        mailgun_fields(make(message_id="<mg1@example.test>")),
        **auth_header(),
    )
    assert response.status_code == 200
    assert Message.objects.get(external_id="<mg1@example.test>").ticket.channel == "email"


def test_mailgun_with_a_bad_signature_is_refused(client):
    response = client.post(
        "/email/anymail/mailgun/inbound/", mailgun_fields(make(), key="wrong-key"), **auth_header()
    )
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_postmark_inbound_json_with_basic_auth(client):
    payload = {
        "FromFull": {"Email": "pm@example.test", "Name": "Pat Mark"},
        "ToFull": [{"Email": SUPPORT, "Name": ""}],
        "CcFull": [],
        "BccFull": [],
        "Subject": "Postmark inbound",
        "MessageID": "22c74902-a0c1-4511-804f-341342852c90",
        "TextBody": "Hello from Postmark",
        "HtmlBody": "<p>Hello from Postmark</p>",
        "Headers": [{"Name": "Message-ID", "Value": "<pm1@example.test>"}],
        "Attachments": [],
        "Date": "Mon, 2 Nov 2026 10:00:00 +0000",
    }
    response = client.post(
        "/email/anymail/postmark/inbound/",
        json.dumps(payload),
        content_type="application/json",
        **auth_header(),
    )
    assert response.status_code == 200
    assert Ticket.objects.get().subject == "Postmark inbound"
    denied = client.post(
        "/email/anymail/postmark/inbound/",
        json.dumps(payload),
        content_type="application/json",
        **auth_header("hook:wrong"),
    )
    assert denied.status_code == 400


def test_sendgrid_raw_inbound_with_basic_auth(client):
    raw = make(sender="sg@example.test", message_id="<sg1@example.test>")
    response = client.post(
        "/email/anymail/sendgrid/inbound/",
        {"email": raw.decode(), "to": SUPPORT, "from": "sg@example.test", "charsets": "{}"},
        **auth_header(),
    )
    assert response.status_code == 200
    assert Message.objects.filter(external_id="<sg1@example.test>").exists()


def test_amazon_ses_sns_notification_with_basic_auth(client):
    raw = make(sender="ses@example.test", message_id="<ses1@example.test>")
    ses_message = {
        "notificationType": "Received",
        "mail": {
            "source": "ses@example.test",
            "destination": [SUPPORT],
            "messageId": "ses-abc",
            "timestamp": "2026-11-02T10:00:00.000Z",
            "commonHeaders": {"subject": "Help please"},
        },
        "receipt": {
            "action": {
                "type": "SNS",
                "encoding": "BASE64",
                "topicArn": "arn:aws:sns:us-east-1:1:inbound",
            },
            "recipients": [SUPPORT],
            "spamVerdict": {"status": "PASS"},
            "virusVerdict": {"status": "PASS"},
        },
        "content": base64.b64encode(raw).decode(),
    }
    envelope = {
        "Type": "Notification",
        "MessageId": "sns-1",
        "TopicArn": "arn:aws:sns:us-east-1:1:inbound",
        "Message": json.dumps(ses_message),
        "Timestamp": "2026-11-02T10:00:00.000Z",
        "SignatureVersion": "1",
        "Signature": "unused",
        "SigningCertURL": "https://sns.us-east-1.amazonaws.com/x.pem",
    }
    response = client.post(
        "/email/anymail/amazon_ses/inbound/",
        json.dumps(envelope),
        content_type="text/plain",
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="sns-1",
        HTTP_X_AMZ_SNS_TOPIC_ARN="arn:aws:sns:us-east-1:1:inbound",
        **auth_header(),
    )
    assert response.status_code == 200, response.content
    assert Message.objects.filter(external_id="<ses1@example.test>").exists()
