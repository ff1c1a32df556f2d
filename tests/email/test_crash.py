"""kill -9 the SMTP listener in the middle of a burst from a client that retries: every message the
client got a 250 for is stored exactly once."""

import signal
import smtplib
import sqlite3
import subprocess
import threading
import time

from tests.email.mail import REPO, SUPPORT, free_port, listener_data_dir, make


def test_every_acknowledged_message_survives_a_kill_9(tmp_path):
    env, manage = listener_data_dir(tmp_path)
    port = free_port()

    def start():
        process = subprocess.Popen(
            [*manage, "smtpd", "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        process.stdout.readline()  # "SMTP listener on ..."
        return process

    server = {"process": start(), "kills": 0}
    acked: list[str] = []

    def killer():
        while len(acked) < 15:
            time.sleep(0.01)
        server["process"].send_signal(signal.SIGKILL)
        server["process"].wait()
        server["kills"] += 1
        time.sleep(1.0)
        server["process"] = start()

    chaos = threading.Thread(target=killer)
    chaos.start()
    total = 60
    for i in range(total):
        message_id = f"<burst-{i}@example.test>"
        raw = make(sender=f"burst{i % 7}@example.test", subject=f"Burst {i}", message_id=message_id)
        # Retry as an MTA would, for as long as a restart can take on a busy machine.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
                    client.sendmail(f"burst{i % 7}@example.test", [SUPPORT], raw)
                acked.append(message_id)
                break
            except (OSError, smtplib.SMTPException):
                time.sleep(0.1)
    chaos.join(timeout=30)
    server["process"].terminate()
    server["process"].wait()
    assert server["kills"] == 1 and len(acked) == total
    db = sqlite3.connect(tmp_path / "caredesk.sqlite3")
    counts = dict(
        db.execute(
            "SELECT external_id, count(*) FROM tickets_message WHERE channel = 'email' GROUP BY external_id"
        )
    )
    assert all(counts.get(message_id) == 1 for message_id in acked), {
        m: counts.get(m) for m in acked if counts.get(m) != 1
    }
