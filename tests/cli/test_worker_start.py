"""A fresh job worker (in `caredesk serve` or `caredesk worker`) knows every task before it takes
the first queued message: a job queued while no worker ran is run from its own message, and
nothing is dropped with "not found in TaskRegistry"."""

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.cli.test_commands import free_port

REPO = Path(__file__).resolve().parents[2]

ENQUEUE = "from caredesk.core import jobs; print(jobs.enqueue('system.probe', {'seconds': 0}).pk)"


def _environment(tmp_path: Path) -> dict:
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        "CAREDESK_SMTP_PORT": str(free_port()),
        "CAREDESK_HUEY_IMMEDIATE": "0",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    return env


def _caredesk(env: dict, *args: str) -> str:
    return subprocess.run(
        [sys.executable, "-m", "caredesk", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def _job(tmp_path: Path, job_id: int) -> tuple[str, int]:
    with sqlite3.connect(tmp_path / "caredesk.sqlite3") as db:
        state = db.execute("SELECT state FROM core_job WHERE id = ?", (job_id,)).fetchone()[0]
        tries = db.execute(
            "SELECT count(*) FROM core_jobattempt WHERE job_id = ?", (job_id,)
        ).fetchone()[0]
    return state, tries


@pytest.mark.parametrize(
    "command",
    [
        ["serve", "--no-demo", "--no-smtp", "--port", "0"],
        ["worker"],
    ],
    ids=["in-process worker of serve", "standalone worker"],
)
def test_a_fresh_worker_runs_the_queued_job_and_drops_nothing(tmp_path, command):
    env = _environment(tmp_path)
    _caredesk(env, "migrate", "-v", "0")
    job_id = int(_caredesk(env, "shell", "-c", ENQUEUE).strip().splitlines()[-1])
    assert _job(tmp_path, job_id) == ("pending", 0)
    if command[0] == "serve":
        command = [*command[:-1], str(free_port())]
    log = tmp_path / "worker.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "caredesk", *command],
        cwd=REPO,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and _job(tmp_path, job_id)[0] != "done":
            assert process.poll() is None, log.read_text()[-3000:]
            time.sleep(0.3)
        time.sleep(1)  # let any second delivery of the job show in the log
    finally:
        process.terminate()
        process.wait(timeout=30)
    output = log.read_text()
    assert _job(tmp_path, job_id) == ("done", 1), output[-3000:]
    assert "not found in TaskRegistry" not in output, output[-3000:]
