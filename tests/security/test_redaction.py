"""PII redaction at ingestion: cards (Luhn), IBANs (mod 97) and configured national ids."""

import pytest

from caredesk.assist.redaction import redact
from caredesk.tickets.services import InboundMessage, SenderIdentity, ingest


@pytest.mark.parametrize(
    "text",
    [
        "4111 1111 1111 1111",
        "4111-1111-1111-1111",
        "5500005555555559",
        "378282246310005",
        "6011 0009 9013 9424",
    ],
)
def test_luhn_valid_card_numbers_are_redacted(text):
    assert redact(f"my card is {text}.") == "my card is [redacted card]."


@pytest.mark.parametrize(
    "text", ["4111 1111 1111 1112", "order 1234567890123", "call 555 123 4567"]
)
def test_numbers_that_are_not_cards_are_kept(text):
    assert redact(text) == text


@pytest.mark.parametrize(
    "iban", ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000", "FR1420041010050500013M02606"]
)
def test_valid_ibans_are_redacted(iban):
    assert redact(f"pay to {iban} please") == "pay to [redacted bank account] please"


def test_iban_with_bad_checksum_is_kept():
    assert redact("GB00 WEST 1234 5698 7654 32") == "GB00 WEST 1234 5698 7654 32"


def test_national_ids_follow_the_configured_countries(settings):
    settings.CAREDESK_PII_NATIONAL_IDS = ["us"]
    assert redact("ssn 123-45-6789") == "ssn [redacted id]"
    assert redact("ssn 000-45-6789") == "ssn 000-45-6789"
    assert redact("dni 12345678Z") == "dni 12345678Z"
    settings.CAREDESK_PII_NATIONAL_IDS = ["es", "nl", "uk"]
    assert redact("dni 12345678Z") == "dni [redacted id]"
    assert redact("dni 12345678A") == "dni 12345678A"
    assert redact("bsn 111222333") == "bsn [redacted id]"
    assert redact("nino AB 12 34 56 C") == "nino [redacted id]"


@pytest.mark.django_db
def test_card_number_never_reaches_the_database_on_any_field():
    result = ingest(
        InboundMessage(
            channel="chat",
            sender=SenderIdentity("email", "pay@example.test"),
            subject="card 4111111111111111",
            body_text="use 4111 1111 1111 1111",
            body_html="<p>use 4111-1111-1111-1111</p>",
            raw=b'{"text": "4111111111111111"}',
            external_id="chat-1",
        )
    )
    ticket, message = result.ticket, result.message
    stored = " ".join(
        [ticket.subject, message.body_text, message.body_html, message.raw.payload.decode()]
    )
    assert "4111" not in stored
