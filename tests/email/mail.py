"""Building test emails, and what the tests of a listener process need."""

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

SUPPORT = "support@demo.caredesk.test"
REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listener_data_dir(tmp_path: Path, *, auto_acknowledge: bool = True) -> tuple[dict, list[str]]:
    """A migrated SQLite data dir with the support mailbox, for `caredesk smtpd` in a process of
    its own: the environment to run it in and the command's start."""
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        "CAREDESK_EMAIL_SENDER_RATE": "100000",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, "-m", "caredesk"]
    subprocess.run(
        [*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True, capture_output=True
    )
    subprocess.run(
        [
            *manage,
            "shell",
            "-c",
            "from caredesk.channels.email.models import Mailbox; "
            f"Mailbox.objects.create(address='{SUPPORT}', auto_acknowledge={auto_acknowledge})",
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    return env, manage


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
