"""Shared helpers for the benchmark scripts: temp installs, servers on free ports, load, stats."""

from __future__ import annotations

import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
OUT = REPO / "bench" / "out"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine() -> str:
    cores = os.cpu_count()
    try:
        mem_kb = int(
            next(line for line in open("/proc/meminfo") if line.startswith("MemTotal")).split()[1]
        )
        memory = f"{mem_kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        memory = "?"
    return f"{platform.machine()}, {cores} cores, {memory}, Python {platform.python_version()}"


def env_for(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        "CAREDESK_LOG_LEVEL": "WARNING",
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    env.update(extra)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    return subprocess.run(
        [PYTHON, "-m", "caredesk", *args],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout


def fresh_install(**extra: str) -> tuple[dict[str, str], str]:
    """A migrated instance in a temp dir with an admin and a write token."""
    data_dir = Path(tempfile.mkdtemp(prefix="caredesk-bench-"))
    env = env_for(data_dir, **extra)
    manage(env, "migrate", "-v", "0")
    token = (
        manage(
            env,
            "shell",
            "-c",
            (
                "from caredesk.accounts.models import Role; from caredesk.accounts.services import create_agent, create_token; "
                "a = create_agent(email='bench@example.test', name='Bench', role=Role.ADMIN, password=None); "
                "print(create_token(a).token)"
            ),
        )
        .strip()
        .splitlines()[-1]
    )
    return env, token


def agent_session(env: dict[str, str], email: str, *, all_teams: bool = False) -> str:
    """A logged-in session id for an existing agent (optionally put in every team first)."""
    script = (
        "from django.test import Client; from caredesk.accounts.models import Team, User; "
        f"agent = User.objects.get(email={email!r}); "
        + ("agent.teams.set(Team.objects.all()); " if all_teams else "")
        + "c = Client(); c.force_login(agent); print(c.cookies['sessionid'].value)"
    )
    return manage(env, "shell", "-c", script).strip().splitlines()[-1]


def start_server(
    env: dict[str, str], app: str, *, workers: int = 2
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            PYTHON,
            "-m",
            "uvicorn",
            app,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--log-level",
            "warning",
            "--no-access-log",
            "--timeout-graceful-shutdown",
            "10",  # as `caredesk serve` (CAREDESK_SHUTDOWN_GRACE_SECONDS)
            "--ws-per-message-deflate",
            "false",  # as `caredesk serve` (docs/decisions: WebSocket compression)
        ],
        cwd=REPO,
        env=env,
    )
    wait_for_port(process, port, app)
    return process, port


def wait_for_port(process: subprocess.Popen, port: int, what: str, timeout: float = 60) -> None:
    """Wait until something listens on the port (and its workers had a moment to import)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            time.sleep(1.0)  # let every worker finish importing
            return
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError(f"{what} did not start")


def rss_kib(pid: int) -> int:
    """Resident memory of one process (VmRSS), 0 when it is gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def process_tree(pid: int) -> list[int]:
    """The pid and its descendants (a uvicorn/gunicorn master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(entry))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def write_json(name: str, data: dict) -> Path:
    """Results for the charts (bench/charts.py) go to bench/out/<name>.json."""
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"{name}.json"
    path.write_text(json.dumps(data, indent=2))
    return path


@dataclass
class Result:
    name: str
    clients: int
    requests: int
    errors: int
    seconds: float
    latencies: list[float]

    @property
    def throughput(self) -> float:
        return (self.requests - self.errors) / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "clients": self.clients,
            "requests": self.requests,
            "errors": self.errors,
            "seconds": round(self.seconds, 3),
            "throughput": round(self.throughput, 2),
            "p50_ms": round(self.pct(50), 2),
            "p95_ms": round(self.pct(95), 2),
            "p99_ms": round(self.pct(99), 2),
        }

    def row(self) -> str:
        return (
            f"| {self.name} | {self.clients} | {self.requests} | {self.errors} | {self.throughput:,.0f} | "
            f"{self.pct(50):.1f} | {self.pct(95):.1f} | {self.pct(99):.1f} |"
        )


HEADER = "| scenario | clients | requests | errors | req/s | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|---|---|---|"


async def _load(
    method: str, url: str, *, clients: int, total: int, body_for, headers: dict[str, str]
) -> Result:
    import httpx

    latencies: list[float] = []
    errors = 0
    counter = iter(range(total))

    async def worker(client: httpx.AsyncClient) -> None:
        nonlocal errors
        for i in counter:
            started = time.perf_counter()
            try:
                response = await client.request(
                    method, url, json=body_for(i) if body_for else None, headers=headers
                )
                if response.status_code >= 400:
                    errors += 1
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        started = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        elapsed = time.perf_counter() - started
    return Result(
        name="",
        clients=clients,
        requests=total,
        errors=errors,
        seconds=elapsed,
        latencies=latencies,
    )


def load(
    name: str,
    method: str,
    url: str,
    *,
    clients: int,
    total: int,
    body_for=None,
    headers: dict[str, str] | None = None,
) -> Result:
    result = asyncio.run(
        _load(method, url, clients=clients, total=total, body_for=body_for, headers=headers or {})
    )
    result.name = name
    return result


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


class QueryCounter:
    """Counts the queries run on a connection inside the block (no cap, unlike the test helper)."""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.count = 0
        self._wrapper = None

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)

    def __enter__(self) -> QueryCounter:
        self._wrapper = self.connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._wrapper.__exit__(*exc)
