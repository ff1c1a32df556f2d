"""PII redaction at ingestion: cards (Luhn), IBANs (mod 97) and configured national ids."""

import pytest

from caredesk.assist.redaction import redact, redact_attachment, redact_mime
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


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<p><b>4111</b> 1111 <i>1111</i> 1111</p>", "<p><b>[redacted card]</b><i></i></p>"),
        ("card &#52;111&nbsp;1111 1111 1111", "card [redacted card]"),
        ("call 555 4111 1111 1111 1111 today", "call 555 [redacted card] today"),
        ("4111 1111 1111 1111 cvv 123", "[redacted card] cvv [redacted cvv]"),
        ("CVC: 737 for 5555-5555-5555-4444", "CVC: [redacted cvv] for [redacted card]"),
        ("4111111111111111 5555555555554444", "[redacted card] [redacted card]"),
    ],
)
def test_cards_hidden_by_tags_neighbours_or_a_cvv_are_redacted(text, expected):
    assert redact(text) == expected


def test_a_security_code_far_from_any_card_is_kept():
    assert redact("cvv 123 means nothing here") == "cvv 123 means nothing here"


def test_mail_without_a_card_is_stored_byte_for_byte_identifiers_included():
    """Message ids and MIME boundaries are identifiers: digits in them that pass the Luhn check
    (a Python boundary has 19 random digits) are kept, or replies and parts would not match."""
    import re

    from tests.email.mail import make

    raw = make(
        body="Order 12345, thanks",
        html="<p>Order 12345</p>",
        attachments=[("a.png", "image/png", bytes(range(256)))],
        message_id="<4111111111111111.1@example.test>",
    )
    boundaries = set(re.findall(rb'boundary="([^"]+)"', raw))
    for n, boundary in enumerate(sorted(boundaries)):
        raw = raw.replace(boundary, f"=={n}=4111111111111111==".encode())
    assert redact_mime(raw) == raw


def test_binary_attachments_are_kept_and_text_ones_redacted():
    assert redact_attachment("a.png", "image/png", b"\x894111111111111111") == (
        "a.png",
        b"\x894111111111111111",
    )
    assert redact_attachment("notes.txt", "application/octet-stream", b"4111111111111111") == (
        "notes.txt",
        b"[redacted card]",
    )


@pytest.mark.django_db
def test_a_card_cut_by_a_length_limit_is_redacted_before_the_cut():
    """Cutting first would keep the card's first digits, which no longer pass the Luhn check."""
    from caredesk.channels.email.parser import parse
    from tests.email.mail import make

    long_subject = "a" * 246 + " 4111111111111111"
    assert "41111" not in parse(make(subject=long_subject)).subject
    ticket = ingest(
        InboundMessage(
            channel="chat",
            sender=SenderIdentity("email", "cut@example.test"),
            subject=long_subject,
            body_text="hello",
        )
    ).ticket
    assert "41111" not in ticket.subject and "[redacte" in ticket.subject


@pytest.mark.django_db
def test_a_card_joined_by_sanitizing_the_html_is_redacted():
    """The sanitizer drops a script with its content, bringing the number's groups together."""
    message = ingest(
        InboundMessage(
            channel="chat",
            sender=SenderIdentity("email", "js@example.test"),
            body_html="<p>4111<script>x</script>1111 1111 1111</p>",
        )
    ).message
    assert "1111" not in message.body_html and "1111" not in message.body_text
    assert "[redacted card]" in message.body_html
