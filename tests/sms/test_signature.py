"""X-Twilio-Signature: the documented algorithm, and webhooks that refuse what is not signed."""

import pytest

from caredesk.channels.sms import signature
from caredesk.tickets.models import Message, RawInbound
from tests.sms.conftest import AUTH_TOKEN, CUSTOMER, post_form, signed_post, text

# Twilio's own example (docs/usage/webhooks/webhooks-security): auth token 12345.
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+14158675310",
    "Digits": "1234",
    "From": "+14158675310",
    "To": "+18005551212",
}


def test_it_computes_the_documented_example():
    assert signature.compute("12345", DOC_URL, DOC_PARAMS.items()) == "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert signature.is_valid("12345", DOC_URL, DOC_PARAMS.items(), "GvWf1cFY/Q7PnoempGyD5oXAezc=")


def test_it_refuses_another_url_params_token_or_no_signature():
    good = "GvWf1cFY/Q7PnoempGyD5oXAezc="
    assert not signature.is_valid("12345", DOC_URL + "&x=1", DOC_PARAMS.items(), good)
    assert not signature.is_valid("12345", DOC_URL, {**DOC_PARAMS, "Digits": "9"}.items(), good)
    assert not signature.is_valid("54321", DOC_URL, DOC_PARAMS.items(), good)
    assert not signature.is_valid("12345", DOC_URL, DOC_PARAMS.items(), "")


pytestmark = pytest.mark.django_db


def test_a_signed_text_is_answered_with_empty_twiml(client, account):
    response = text(client, account, "Hello", "SM" + "a" * 32)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode().endswith("<Response/>")
    assert Message.objects.filter(external_id="SM" + "a" * 32).exists()


@pytest.mark.parametrize("header", [None, "bm90IHRoZSBzaWduYXR1cmU=", "wrong-token"])
def test_a_bad_or_missing_signature_is_refused_and_nothing_is_stored(client, account, header):
    form = {"MessageSid": "SM" + "b" * 32, "From": CUSTOMER, "To": account.phone_number}
    form["Body"] = "Let me in"
    if header == "wrong-token":
        response = signed_post(client, account.inbound_path, form, token=AUTH_TOKEN + "x")
    elif header is None:
        response = post_form(client, account.inbound_path, form)
    else:
        response = post_form(client, account.inbound_path, form, HTTP_X_TWILIO_SIGNATURE=header)
    assert response.status_code == 403
    assert "X-Twilio-Signature" in response.content.decode()
    assert not RawInbound.objects.exists() and not Message.objects.exists()
    # The status webhook checks it too.
    status = post_form(client, account.status_path, {"MessageSid": "SM1", "MessageStatus": "sent"})
    assert status.status_code == 403


def test_an_unknown_account_is_not_found(client, account):
    response = post_form(client, "/sms/twilio/nobody/inbound/", {"From": CUSTOMER})
    assert response.status_code == 404 and not RawInbound.objects.exists()
