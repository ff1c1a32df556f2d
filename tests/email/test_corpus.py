"""A corpus of tricky emails: each lands exactly once, correctly threaded, or is quarantined with
a reason. Never a crash, never a silent drop."""

import pytest

from caredesk.channels.email.services import receive
from caredesk.tickets.models import Message, RawInbound, Ticket
from tests.email.mail import SUPPORT, make

pytestmark = pytest.mark.django_db

CRLF = "\r\n"


def raw(headers, body, *, sep=CRLF):
    return (
        (sep.join(headers) + sep + sep + body).encode("latin-1")
        if isinstance(body, str)
        else (sep.join(headers).encode() + (sep + sep).encode() + body)
    )


BASE = [f"To: {SUPPORT}", "Subject: Corpus"]

CORPUS = {
    "plain": (make(), "created"),
    "latin1_declared": (
        raw(
            [
                "From: a1@example.test",
                *BASE,
                "Message-ID: <c1@x>",
                "Content-Type: text/plain; charset=iso-8859-1",
            ],
            "Gr\xfc\xdfe aus M\xfcnchen",
        ),
        "created",
    ),
    "wrong_charset_utf8_labelled_ascii": (
        (
            "From: a2@example.test\r\nTo: " + SUPPORT + "\r\nSubject: x\r\nMessage-ID: <c2@x>\r\n"
            "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        ).encode()
        + "Caf\u00e9 na\u00efve".encode(),
        "created",
    ),
    "unknown_charset": (
        raw(
            [
                "From: a3@example.test",
                *BASE,
                "Message-ID: <c3@x>",
                "Content-Type: text/plain; charset=x-klingon",
            ],
            "qapla",
        ),
        "created",
    ),
    "encoded_word_subject": (
        raw(
            [
                "From: =?utf-8?q?J=C3=B6rg?= <a4@example.test>",
                f"To: {SUPPORT}",
                "Subject: =?utf-8?b?w5xiZXIgbWVpbmUgQmVzdGVsbHVuZw==?=",
                "Message-ID: <c4@x>",
            ],
            "hallo",
        ),
        "created",
    ),
    "broken_encoded_word": (
        raw(
            [
                "From: a5@example.test",
                f"To: {SUPPORT}",
                "Subject: =?utf-8?q?broken=ZZ?=",
                "Message-ID: <c5@x>",
            ],
            "x",
        ),
        "created",
    ),
    "no_subject": (
        raw(["From: a6@example.test", f"To: {SUPPORT}", "Message-ID: <c6@x>"], "no subject here"),
        "created",
    ),
    "no_date_no_to": (
        raw(["From: a7@example.test", "Subject: minimal", "Message-ID: <c7@x>"], "minimal"),
        "created",
    ),
    "no_message_id": (make(sender="a8@example.test", message_id=False), "created"),
    "no_from": (
        raw([f"To: {SUPPORT}", "Subject: anonymous", "Message-ID: <c9@x>"], "who am I"),
        "quarantined",
    ),
    "garbage_from": (
        raw(["From: not an address", f"To: {SUPPORT}", "Subject: x", "Message-ID: <c10@x>"], "x"),
        "quarantined",
    ),
    "huge_header": (
        raw(
            ["From: a11@example.test", *BASE, "Message-ID: <c11@x>", "X-Junk: " + "A" * 200000],
            "big header",
        ),
        "created",
    ),
    "many_references": (
        raw(
            [
                "From: a12@example.test",
                *BASE,
                "Message-ID: <c12@x>",
                "References: " + " ".join(f"<r{i}@x>" for i in range(5000)),
            ],
            "refs",
        ),
        "created",
    ),
    "broken_mime_no_boundary": (
        raw(
            [
                "From: a13@example.test",
                *BASE,
                "Message-ID: <c13@x>",
                "MIME-Version: 1.0",
                "Content-Type: multipart/mixed",
            ],
            "no boundary at all",
        ),
        "created",
    ),
    "unterminated_multipart": (
        raw(
            [
                "From: a14@example.test",
                *BASE,
                "Message-ID: <c14@x>",
                "MIME-Version: 1.0",
                'Content-Type: multipart/alternative; boundary="zz"',
            ],
            "--zz\r\nContent-Type: text/plain\r\n\r\nstart but never ends",
        ),
        "created",
    ),
    "bad_base64": (
        raw(
            [
                "From: a15@example.test",
                *BASE,
                "Message-ID: <c15@x>",
                "Content-Transfer-Encoding: base64",
            ],
            "!!!not base64!!!",
        ),
        "created",
    ),
    "bad_quoted_printable": (
        raw(
            [
                "From: a16@example.test",
                *BASE,
                "Message-ID: <c16@x>",
                "Content-Transfer-Encoding: quoted-printable",
            ],
            "soft=\r\nbreak =ZZ bad",
        ),
        "created",
    ),
    "deeply_nested": (None, "created"),
    "html_only": (
        make(sender="a18@example.test", body="", html="<p>Only <b>HTML</b></p>"),
        "created",
    ),
    "xss_html": (
        make(
            sender="a19@example.test",
            html='<img src=x onerror=alert(1)><script>alert(2)</script><a href="javascript:x">x</a>',
        ),
        "created",
    ),
    "calendar_invite": (
        make(
            sender="a20@example.test",
            subject="Meeting",
            attachments=[("invite.ics", "text/calendar", b"BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n")],
        ),
        "created",
    ),
    "winmail_dat": (
        make(
            sender="a21@example.test",
            attachments=[("winmail.dat", "application/ms-tnef", b"\x78\x9f\x3e\x22" * 10)],
        ),
        "created",
    ),
    "forwarded_chain": (None, "created"),
    "auto_reply_header": (
        make(sender="a23@example.test", headers={"Auto-Submitted": "auto-replied"}),
        "created",
    ),
    "x_autoreply": (make(sender="a24@example.test", headers={"X-Autoreply": "yes"}), "created"),
    "precedence_bulk": (make(sender="a25@example.test", headers={"Precedence": "bulk"}), "created"),
    "mailer_daemon_unknown": (
        make(sender="MAILER-DAEMON@mx.example.test", subject="Undeliverable"),
        "quarantined",
    ),
    "from_our_own_address": (make(sender=SUPPORT), "quarantined"),
    "empty_body": (raw(["From: a29@example.test", *BASE, "Message-ID: <c29@x>"], ""), "created"),
    "lf_only_line_endings": (
        raw(
            ["From: a30@example.test", *BASE, "Message-ID: <c30@x>"],
            "unix\nline\nendings",
            sep="\n",
        ),
        "created",
    ),
    "emoji_subject_body": (
        make(sender="a31@example.test", subject="Help 🙏🔥", body="It's broken 💥"),
        "created",
    ),
    "null_bytes": (
        raw(["From: a32@example.test", *BASE, "Message-ID: <c32@x>"], "nul\x00inside"),
        "created",
    ),
    "card_number": (make(sender="a33@example.test", body="my card 4111 1111 1111 1111"), "created"),
    "executable_attachment": (
        make(
            sender="a34@example.test",
            attachments=[("setup.exe", "application/octet-stream", b"MZ")],
        ),
        "created",
    ),
}


def _nested():
    from email.message import EmailMessage

    inner = EmailMessage()
    inner.set_content("deep inside")
    current = inner
    for _ in range(30):
        outer = EmailMessage()
        outer.make_mixed()
        outer.attach(current)
        current = outer
    current["From"], current["To"], current["Subject"], current["Message-ID"] = (
        "a17@example.test",
        SUPPORT,
        "nested",
        "<c17@x>",
    )
    return current.as_bytes()


def _forwarded():
    from email import policy
    from email.message import EmailMessage

    original = EmailMessage()
    original["From"], original["Subject"] = "vendor@example.test", "Your invoice"
    original.set_content("Invoice attached")
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = (
        "a22@example.test",
        SUPPORT,
        "Fwd: Your invoice",
        "<c22@x>",
    )
    msg.set_content(
        "See below, this is wrong.\n\n---------- Forwarded message ---------\nFrom: vendor"
    )
    msg.add_attachment(original)
    return msg.as_bytes(policy=policy.SMTP)


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_each_tricky_email_lands_once_or_is_quarantined_with_a_reason(mailbox, name):
    payload, expected = CORPUS[name]
    if payload is None:
        payload = {"deeply_nested": _nested, "forwarded_chain": _forwarded}[name]()
    result = receive(payload)
    assert result.outcome == expected, result.reason
    stored = RawInbound.objects.get(pk=result.raw_id)
    if expected == "quarantined":
        assert stored.state == "quarantined" and stored.error
        assert stored.size > 0 or name == "from_our_own_address"
        return
    assert Message.objects.filter(pk=result.message_id).count() == 1
    again = receive(payload)
    assert again.outcome == "duplicate" and Message.objects.count() == 1
    message = Message.objects.get(pk=result.message_id)
    assert (
        "<script" not in message.body_html
        and "onerror" not in message.body_html
        and "javascript:" not in message.body_html
    )
    if name == "card_number":
        assert "4111" not in message.body_text and b"4111 1111" not in message.raw.payload
    if name == "calendar_invite":
        assert message.attachments.get().filename == "invite.ics"
    if name == "winmail_dat":
        assert message.attachments.get().filename == "winmail.dat"
    if name == "forwarded_chain":
        assert message.attachments.get().content_type == "message/rfc822"
    if name == "executable_attachment":
        assert message.metadata["dropped_attachments"][0]["filename"] == "setup.exe"
    if name == "latin1_declared":
        assert "Grüße aus München" in message.body_text
    if name == "encoded_word_subject":
        assert message.ticket.subject == "Über meine Bestellung"


def test_corpus_has_at_least_thirty_messages():
    assert len(CORPUS) >= 30


def test_every_corpus_message_is_accounted_for(mailbox):
    for name in sorted(CORPUS):
        payload, _ = CORPUS[name]
        if payload is None:
            payload = {"deeply_nested": _nested, "forwarded_chain": _forwarded}[name]()
        receive(payload)
    accounted = RawInbound.objects.filter(state__in=["processed", "quarantined"]).count()
    assert accounted == len(CORPUS)
    assert Ticket.objects.count() == sum(1 for _, (p, e) in CORPUS.items() if e == "created")
