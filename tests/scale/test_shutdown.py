"""`caredesk serve` on the Redis channel layer stops on SIGTERM after live chat sockets came and went.

Consumers waiting on channels-redis could keep the server's graceful shutdown waiting for good,
so a restart or a deploy hung until the service manager killed it; the server now cancels what
is left after CAREDESK_SHUTDOWN_GRACE_SECONDS.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
REDIS = os.environ.get("CAREDESK_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.redis,
    pytest.mark.cluster,  # SQLite + Redis whatever the pass: run it once
    pytest.mark.skipif(
        not REDIS,
        reason="REDIS SHUTDOWN TEST SKIPPED: set CAREDESK_TEST_REDIS_URL (.ci/run does)",
    ),
]

SETUP = """
from caredesk.accounts.models import Team
from caredesk.channels.chat.models import ChatWidget
team = Team.objects.create(name="Support", slug="support")
ChatWidget.objects.create(name="Shop", key="shop", team=team, require_email=False)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def visitors_come_and_go(port: int, count: int) -> int:
    # The sync client: browser tests in the same worker leave an event loop running in this thread.
    from websockets.sync.client import connect

    sockets = []
    for _ in range(count):
        ws = connect(f"ws://127.0.0.1:{port}/ws/chat/shop/", origin=f"http://127.0.0.1:{port}")
        ws.recv(timeout=30)  # hello: the consumer is connected to the channel layer
        sockets.append(ws)
    for ws in sockets:
        ws.close()
    return len(sockets)


def test_serve_on_redis_stops_on_sigterm_after_chat_sockets_closed(tmp_path):
    import redis

    redis_url = REDIS.rsplit("/", 1)[0] + "/10"
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        "REDIS_URL": redis_url,
        "CAREDESK_SHUTDOWN_GRACE_SECONDS": "3",
    }
    env.pop("DATABASE_URL", None)
    manage = [sys.executable, "-m", "caredesk"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True)
    subprocess.run([*manage, "shell", "-c", SETUP], cwd=REPO, env=env, check=True)
    port = free_port()
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [*manage, "serve", "--port", str(port), "--no-demo", "--no-smtp", "--no-worker"],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).is_success:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        for _round in range(3):
            assert visitors_come_and_go(port, 20) == 20
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pytest.fail(f"serve did not stop within 60 s of SIGTERM:\n{log.read_text()[-2000:]}")
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
