"""`caredesk migrate-data` moves an embedded install to another database with nothing lost."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SEED = """
from tests import factories
from caredesk.tickets.services import post_message, InboundAttachment
from caredesk.accounts.models import Role
billing = factories.team("Billing")
agent = factories.agent(email="mover@example.test", teams=[billing])
for i in range(25):
    t = factories.ticket(team=billing, tags=["t%d" % (i % 3)])
    post_message(agent, t, body_text="reply %d" % i, attachments=[InboundAttachment("a.txt", "text/plain", b"x")] if i == 0 else [])
print("seeded")
"""


def caredesk(*args, data_dir, extra_env=None, check=True):
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
    }
    env.pop("DATABASE_URL", None)
    env.update(extra_env or {})
    return subprocess.run(
        [sys.executable, "-m", "caredesk", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=check,
    )


@pytest.fixture
def seeded_sqlite(tmp_path):
    caredesk("migrate", "-v", "0", data_dir=tmp_path)
    out = caredesk("shell", "-c", SEED, data_dir=tmp_path)
    assert "seeded" in out.stdout
    return tmp_path / "caredesk.sqlite3"


@pytest.fixture
def target_url(tmp_path):
    base = os.environ.get("CAREDESK_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path / 'target.sqlite3'}"
        return
    import psycopg

    name = f"caredesk_move_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield base.rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_moves_every_row_and_verifies(tmp_path, seeded_sqlite, target_url):
    result = caredesk(
        "migrate-data",
        "--from",
        f"sqlite:///{seeded_sqlite}",
        "--to",
        target_url,
        data_dir=tmp_path,
    )
    assert "counts and checksums verified" in result.stdout
    assert "tickets.ticket: 25" in result.stdout
    # The moved install works: the same tickets, and new ids continue after the old ones.
    check = caredesk(
        "shell",
        "-c",
        "from caredesk.tickets.models import Ticket, Message; from tests import factories; "
        "print(Ticket.objects.count(), Message.objects.count(), factories.ticket().pk)",
        data_dir=tmp_path,
        extra_env={"DATABASE_URL": target_url},
    )
    tickets, messages, new_id = map(int, check.stdout.strip().splitlines()[-1].split())
    assert (tickets, messages) == (25, 50) and new_id == 26


def test_refuses_a_target_that_already_has_data(tmp_path, seeded_sqlite):
    result = caredesk(
        "migrate-data",
        "--from",
        f"sqlite:///{seeded_sqlite}",
        "--to",
        f"sqlite:///{seeded_sqlite}",
        data_dir=tmp_path,
        check=False,
    )
    assert result.returncode != 0
    assert "not empty" in result.stderr
