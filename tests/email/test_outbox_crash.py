"""kill -9 a process right after it committed an agent's reply, before anything sent it; then start
a worker: the reply reaches a real SMTP server exactly once."""

import signal
import sqlite3
import subprocess
import time

from tests.email.mail import REPO, listener_data_dir
from tests.email.smtp_sink import SmtpSink

SETUP = """
from tests import factories
agent = factories.agent(email="alice@example.test", name="Alice")
factories.ticket(subject="Parcel late", channel="email",
                 requester=factories.customer(email="jo@example.test"))
"""

# The reply commits; the first after-commit callback (before the outbox's own hand-off to a
# worker) kills the process, as a power cut between the commit and the send would.
REPLY_THEN_DIE = """
import os, signal
from django.db import transaction
from caredesk.accounts.models import User
from caredesk.tickets.models import Ticket
from caredesk.tickets.services import post_message
with transaction.atomic():
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    post_message(User.objects.get(email="alice@example.test"), Ticket.objects.get(),
                 body_text="Your parcel left the warehouse today.")
print("not reached")
"""


def test_a_reply_committed_before_a_kill_9_is_sent_exactly_once_after_restart(tmp_path):
    env, manage = listener_data_dir(tmp_path, auto_acknowledge=False)

    def shell(code: str, extra: dict[str, str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*manage, "shell", "-c", code],
            cwd=REPO,
            env={**env, **extra},
            capture_output=True,
            text=True,
            timeout=120,
        )

    with SmtpSink() as sink:
        mail_env = {
            "CAREDESK_EMAIL_HOST": "127.0.0.1",
            "CAREDESK_EMAIL_PORT": str(sink.port),
            "CAREDESK_OUTBOX_GRACE_SECONDS": "0",
        }
        assert shell(SETUP, mail_env).returncode == 0
        died = shell(REPLY_THEN_DIE, mail_env)
        assert died.returncode == -signal.SIGKILL and "not reached" not in died.stdout
        db = sqlite3.connect(tmp_path / "caredesk.sqlite3")
        assert db.execute("SELECT state, attempts FROM core_delivery").fetchall() == [
            ("pending", 0)
        ]
        assert sink.received == []
        # Restart: a worker sweeps at start and its consumer sends what was left.
        worker = subprocess.Popen(
            [*manage, "worker", "--workers", "1"],
            cwd=REPO,
            env={**env, **mail_env},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 90
            while not sink.received and time.monotonic() < deadline:
                time.sleep(0.2)
            time.sleep(2)  # room for a second send, if anything were to send it again
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        # Another sweep (the next minute's) finds nothing left to send.
        assert shell("from caredesk.core import outbox; outbox.sweep()", mail_env).returncode == 0
        received = list(sink.received)
    assert len(received) == 1
    assert "Your parcel left the warehouse today." in received[0].get_body().get_content()
    assert received[0]["To"] == "jo@example.test"
    assert db.execute("SELECT state, attempts FROM core_delivery").fetchall() == [("sent", 1)]
    assert db.execute(
        "SELECT delivery_status FROM tickets_message WHERE author_kind = 'agent'"
    ).fetchall() == [("sent",)]
