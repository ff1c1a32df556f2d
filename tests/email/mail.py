"""Building test emails."""

from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

SUPPORT = "support@demo.caredesk.test"


def make(
    *,
    sender="jo@example.test",
    to=SUPPORT,
    subject="Help please",
    body="My order is late.",
    message_id=None,
    html=None,
    headers=None,
    attachments=(),
    cc=None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    if message_id is not False:
        msg["Message-ID"] = message_id or make_msgid(domain="example.test")
    for key, value in (headers or {}).items():
        msg[key] = value
    msg.set_content(body)
    if html:
        msg.add_alternative(html, subtype="html")
    for filename, content_type, content in attachments:
        maintype, subtype = content_type.split("/", 1)
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=policy.SMTP)
