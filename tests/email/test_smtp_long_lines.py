"""Long lines over a real SMTP conversation: an 11 kB line (as Outlook sends) and mail with bare
LF line ends are accepted like Postfix accepts them, within the message size limit."""

import smtplib

import pytest

from caredesk.tickets.models import Message
from tests.email import test_smtp
from tests.email.mail import SUPPORT

pytestmark = pytest.mark.django_db(transaction=True)

listener = test_smtp.listener  # the real listener on a free port
smtp = test_smtp.smtp


def _mail(message_id: str, body: bytes, *, eol: bytes = b"\r\n") -> bytes:
    headers = [
        b"From: jo@example.test",
        b"To: " + SUPPORT.encode(),
        b"Subject: The long line",
        b"Message-ID: " + message_id.encode(),
        b"MIME-Version: 1.0",
        b"Content-Type: text/html; charset=utf-8",
    ]
    return eol.join(headers) + eol + eol + body + eol


def test_an_11_kb_line_is_accepted(listener):
    line = b"<p>" + b"Order 1234 is late. " * 560 + b"</p>"
    assert len(line) > 11_000
    with smtp(listener) as client:
        refused = client.sendmail("jo@example.test", [SUPPORT], _mail("<long@example.test>", line))
    assert refused == {}
    message = Message.objects.get(external_id="<long@example.test>")
    assert message.body_text.count("Order 1234 is late.") == 560


def test_bare_lf_mail_over_1001_bytes_is_accepted(listener):
    body = b"\n".join(b"Line %d of a mail with bare LF line ends." % i for i in range(60))
    raw = _mail("<bare-lf@example.test>", body, eol=b"\n")
    assert len(raw) > 1001 and b"\r" not in raw
    with smtp(listener) as client:
        client.ehlo()
        assert client.docmd("MAIL FROM:<jo@example.test>")[0] == 250
        assert client.docmd(f"RCPT TO:<{SUPPORT}>")[0] == 250
        assert client.docmd("DATA")[0] == 354
        # smtplib would rewrite bare LFs to CRLF, so the bytes go out as they are.
        client.send(raw + b"\r\n.\r\n")
        code, reply = client.getreply()
    assert code == 250, reply
    message = Message.objects.get(external_id="<bare-lf@example.test>")
    assert "Line 59 of a mail with bare LF line ends." in message.body_text


def test_a_long_line_still_counts_towards_the_size_limit(listener, settings):
    line = b"x" * (3 * 1024 * 1024)  # the listener's limit is 2 MB
    with (
        smtp(listener) as client,
        pytest.raises((smtplib.SMTPSenderRefused, smtplib.SMTPDataError)) as info,
    ):
        client.sendmail("jo@example.test", [SUPPORT], _mail("<huge@example.test>", line))
    assert info.value.smtp_code in (552, 500)
    assert not Message.objects.filter(external_id="<huge@example.test>").exists()


def test_commands_keep_their_length_limit(listener):
    with smtp(listener) as client:
        client.ehlo()
        code, _ = client.docmd("MAIL FROM:<" + "a" * 5000 + "@example.test>")
    assert code == 500
