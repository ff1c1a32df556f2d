"""IMAP and POP3 polling against a real Dovecot server started for the test (Debian's package,
installed by scripts/test.sh)."""

import imaplib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from caredesk.channels.email.models import Mailbox
from caredesk.channels.email.polling import poll
from caredesk.tickets.models import Message
from tests.email.mail import SUPPORT, free_port, make

pytestmark = pytest.mark.django_db
DOVECOT = "/usr/sbin/dovecot"
PASSWORD = "imap-pass-123"


class Dovecot:
    def __init__(self):
        if not os.path.exists(DOVECOT):
            pytest.fail(
                "dovecot is not installed (scripts/test.sh installs dovecot-imapd and dovecot-pop3d)"
            )
        self.dir = Path(tempfile.mkdtemp(prefix="caredesk-dovecot-"))
        self.process: subprocess.Popen | None = None
        self.dir.chmod(0o755)
        for sub in ("run", "mail", "home"):
            (self.dir / sub).mkdir()
        shutil.chown(self.dir / "mail", "nobody", "nogroup")
        shutil.chown(self.dir / "home", "nobody", "nogroup")
        (self.dir / "users").write_text(f"{SUPPORT}:{{PLAIN}}{PASSWORD}\n")
        self.imap_port, self.pop3_port = free_port(), free_port()
        d = self.dir
        (d / "dovecot.conf").write_text(f"""
base_dir = {d}/run
log_path = {d}/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
mail_location = maildir:{d}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid=nobody gid=nogroup home={d}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {self.pop3_port}
  }}
  inet_listener pop3s {{
    port = 0
  }}
}}
""")

    def start(self):
        # In the foreground (-F), as this test's child: stopped by its own PID, never by name.
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError((self.dir / "dovecot.log").read_text())

    def stop(self):
        if self.process is None:
            return
        self.process.terminate()  # dovecot's master stops its children on SIGTERM
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None
        for _ in range(50):
            try:
                socket.create_connection(("127.0.0.1", self.imap_port), timeout=1).close()
                time.sleep(0.1)
            except OSError:
                return

    def deliver(self, raw, folder="INBOX"):
        client = imaplib.IMAP4("127.0.0.1", self.imap_port)
        client.login(SUPPORT, PASSWORD)
        client.create(folder)
        client.append(folder, None, None, raw)
        client.logout()

    def flags(self):
        client = imaplib.IMAP4("127.0.0.1", self.imap_port)
        client.login(SUPPORT, PASSWORD)
        _, count = client.select("INBOX")
        if int(count[0]) == 0:
            client.logout()
            return []
        _, data = client.fetch("1:*", "(FLAGS)")
        client.logout()
        return [line for line in data if line]


@pytest.fixture
def dovecot():
    server = Dovecot()
    server.start()
    yield server
    server.stop()
    shutil.rmtree(server.dir, ignore_errors=True)


def imap_mailbox(dovecot, **extra):
    return Mailbox.objects.create(
        address=SUPPORT,
        protocol="imap",
        host="127.0.0.1",
        port=dovecot.imap_port,
        use_ssl=False,
        username=SUPPORT,
        password=PASSWORD,
        **extra,
    )


def test_imap_takes_each_message_once_and_marks_it_seen(dovecot):
    box = imap_mailbox(dovecot)
    dovecot.deliver(make(message_id="<imap1@example.test>"))
    dovecot.deliver(make(message_id="<imap2@example.test>", sender="kim@example.test"))
    dovecot.deliver(make(message_id="<imap1@example.test>"))  # the same mail delivered twice
    assert poll(box) == 3
    assert (
        Message.objects.filter(
            external_id__in=["<imap1@example.test>", "<imap2@example.test>"]
        ).count()
        == 2
    )
    assert poll(box) == 0
    assert all(b"\\Seen" in line for line in dovecot.flags())
    box.refresh_from_db()
    assert box.last_error == "" and box.last_polled_at is not None
    # The password is stored encrypted.
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM email_channel_mailbox WHERE id = %s", [box.pk])
        assert cursor.fetchone()[0].startswith("fernet:")


def test_imap_moves_processed_mail_when_configured(dovecot):
    box = imap_mailbox(dovecot, processed_folder="Processed")
    client = imaplib.IMAP4("127.0.0.1", dovecot.imap_port)
    client.login(SUPPORT, PASSWORD)
    client.create("Processed")
    client.logout()
    dovecot.deliver(make(message_id="<move1@example.test>"))
    assert poll(box) == 1
    assert dovecot.flags() == []


def test_polling_survives_a_server_outage(dovecot):
    box = imap_mailbox(dovecot)
    dovecot.deliver(make(message_id="<outage1@example.test>"))
    dovecot.stop()
    assert poll(box) == 0
    box.refresh_from_db()
    assert box.last_error
    dovecot.start()
    assert poll(box) == 1
    box.refresh_from_db()
    assert box.last_error == ""


def test_pop3_takes_and_deletes_each_message_once(dovecot):
    box = Mailbox.objects.create(
        address=SUPPORT,
        protocol="pop3",
        host="127.0.0.1",
        port=dovecot.pop3_port,
        use_ssl=False,
        username=SUPPORT,
        password=PASSWORD,
    )
    dovecot.deliver(make(message_id="<pop1@example.test>"))
    dovecot.deliver(make(message_id="<pop2@example.test>", sender="lee@example.test"))
    assert poll(box) == 2
    assert poll(box) == 0
    assert Message.objects.filter(external_id__startswith="<pop").count() == 2
