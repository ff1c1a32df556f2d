"""The `caredesk` command: serve really starts, set-up commands work non-interactively."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caredesk.accounts.models import ApiToken, User
from caredesk.operations.demo import load_demo
from caredesk.tickets.models import Status, Ticket

REPO = Path(__file__).resolve().parents[2]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_migrates_loads_demo_and_answers_on_its_port(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        "CAREDESK_SMTP_PORT": str(free_port()),
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    log = tmp_path / "serve.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "caredesk", "serve", "--port", str(port)],
        cwd=REPO,
        env=env,
        # A file, not a pipe: nobody reads while it runs, and a full pipe would block the server.
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.time() + 300  # migrate + demo load; slow when the machine is busy
        health = None
        while time.time() < deadline and process.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        if health is None:
            process.kill()
            process.wait()
            output = log.read_text()[-3000:]
            raise AssertionError(f"serve did not answer (exit {process.returncode}):\n{output}")
        assert health.status_code == 200, health.text
        assert health.json()["database"] == "ok"
        token = (
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "caredesk",
                    "token",
                    "create",
                    "--agent",
                    "admin@demo.caredesk.test",
                ],
                cwd=REPO,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        tickets = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/tickets?limit=5",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert tickets.status_code == 200 and len(tickets.json()["items"]) == 5
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = log.read_text()
    assert f"caredesk is running at http://127.0.0.1:{port}" in output
    assert "admin@demo.caredesk.test" in output


@pytest.mark.django_db
def test_createadmin_and_its_bad_inputs():
    call_command(
        "createadmin", "--email", "Root@Example.test", "--password", "a-long-and-unusual-passphrase"
    )
    admin = User.objects.get(email="root@example.test")
    assert admin.is_admin and admin.check_password("a-long-and-unusual-passphrase")
    with pytest.raises(CommandError, match="too short|too common|entirely numeric"):
        call_command("createadmin", "--email", "weak@example.test", "--password", "12345")
    with pytest.raises(CommandError, match="valid email"):
        call_command(
            "createadmin", "--email", "not-an-email", "--password", "a-long-and-unusual-passphrase"
        )
    with pytest.raises(CommandError, match="already exists"):
        call_command(
            "createadmin",
            "--email",
            "root@example.test",
            "--password",
            "a-long-and-unusual-passphrase",
        )


@pytest.mark.django_db
def test_token_create_prints_a_working_token_once(client, capsys):
    call_command(
        "createadmin", "--email", "ops@example.test", "--password", "a-long-and-unusual-passphrase"
    )
    call_command("token", "create", "--agent", "ops@example.test", "--scope", "read")
    token = capsys.readouterr().out.strip().splitlines()[-1]
    assert token.startswith("cdk_")
    assert (
        client.get("/api/v1/agents/me", HTTP_AUTHORIZATION=f"Bearer {token}").json()["email"]
        == "ops@example.test"
    )
    assert not ApiToken.objects.filter(token_hash=token).exists()
    with pytest.raises(CommandError, match="No active agent"):
        call_command("token", "create", "--agent", "ghost@example.test")


@pytest.mark.django_db
def test_demo_data_set_has_teams_tiers_customers_and_varied_tickets():
    counts = load_demo(tickets=120, customers=40)
    assert counts == {"teams": 3, "agents": 12, "customers": 40, "tickets": 120}
    assert set(User.objects.values_list("tier", flat=True)) == {"junior", "mid", "senior", "lead"}
    statuses = set(Ticket.objects.values_list("status", flat=True))
    assert {Status.NEW, Status.OPEN, Status.SOLVED, Status.CLOSED} <= statuses
    assert len(set(Ticket.objects.values_list("channel", flat=True))) >= 4
    assert Ticket.objects.filter(messages__author_kind="agent").distinct().count() > 50
    assert load_demo() == {"tickets": 0}  # loading twice changes nothing
