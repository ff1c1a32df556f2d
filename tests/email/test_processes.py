"""Several SMTP listener processes on one port (`caredesk smtpd --processes N`, SO_REUSEPORT):
every message is answered and stored once, and stopping the first process stops the others."""

import signal
import smtplib
import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from caredesk.channels.email.listener import build_controller
from tests.email.mail import REPO, SUPPORT, free_port, listener_data_dir, make


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if fields[1] == str(pid):
            found.append(int(stat.parent.name))
    return found


def test_listeners_share_a_port_only_when_asked_to(db):
    port = free_port()
    first = build_controller("127.0.0.1", port, reuse_port=True)
    first.start()
    try:
        second = build_controller("127.0.0.1", port, reuse_port=True)
        second.start()
        second.stop()
        # Without SO_REUSEPORT the port is taken.
        third = build_controller("127.0.0.1", port)
        third.ready_timeout = 2  # how long it waits before it reports the failed bind
        with pytest.raises((OSError, RuntimeError)):
            third.start()
    finally:
        first.stop()


def test_two_processes_store_every_message_once(tmp_path):
    env, manage = listener_data_dir(tmp_path, auto_acknowledge=False)
    port = free_port()
    server = subprocess.Popen(
        [*manage, "smtpd", "--port", str(port), "--processes", "2"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert "(2 processes)" in server.stdout.readline()
        others = children(server.pid)
        assert len(others) == 1
        codes: list[int] = []
        lock = threading.Lock()

        def client(start: int) -> None:
            with smtplib.SMTP("127.0.0.1", port, timeout=60) as smtp:
                for i in range(start, start + 5):
                    raw = make(
                        sender=f"p{i}@example.test",
                        subject=f"Shared port {i}",
                        message_id=f"<port-{i}@example.test>",
                    )
                    smtp.ehlo()
                    smtp.docmd(f"MAIL FROM:<p{i}@example.test>")
                    smtp.docmd(f"RCPT TO:<{SUPPORT}>")
                    code, _ = smtp.data(raw)
                    with lock:
                        codes.append(code)

        threads = [threading.Thread(target=client, args=(n * 5,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert codes == [250] * 40
        assert all(Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z" for pid in others)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(60)
    # The other process stops with the first.
    for pid in others:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    db = sqlite3.connect(tmp_path / "caredesk.sqlite3")
    counts = dict(
        db.execute(
            "SELECT external_id, count(*) FROM tickets_message WHERE channel = 'email' "
            "GROUP BY external_id"
        )
    )
    assert counts == {f"<port-{i}@example.test>": 1 for i in range(40)}
