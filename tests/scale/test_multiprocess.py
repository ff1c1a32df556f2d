"""Several server and worker processes on the machine's real PostgreSQL and Redis.

Two uvicorn servers and two `caredesk worker` processes share one database and one Redis:
a ticket created through one server is served by the other, every job runs exactly once, and a
worker killed with SIGKILL mid-job has its job finished by the other worker.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
PG = os.environ.get("CAREDESK_TEST_DATABASE_URL")
REDIS = os.environ.get("CAREDESK_TEST_REDIS_URL")

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(
        not (PG and REDIS),
        reason="MULTI-PROCESS TEST SKIPPED: set CAREDESK_TEST_DATABASE_URL and CAREDESK_TEST_REDIS_URL (.ci/run does)",
    ),
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    import psycopg
    import redis

    name = f"caredesk_cluster_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    redis_url = REDIS.rsplit("/", 1)[0] + "/9"
    redis.Redis.from_url(redis_url).flushdb()
    env = {
        **os.environ,
        "DATABASE_URL": PG.rsplit("/", 1)[0] + "/" + name,
        "REDIS_URL": redis_url,
        "CAREDESK_DATA_DIR": str(tmp_path_factory.mktemp("cluster")),
        "CAREDESK_SECRET_KEY": "cluster-test-secret",
        "CAREDESK_JOB_LEASE_SECONDS": "3",
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
    }

    def manage(*args):
        return subprocess.run(
            [sys.executable, "-m", "caredesk", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=True,
        ).stdout

    manage("migrate", "-v", "0")
    token = (
        manage(
            "shell",
            "-c",
            (
                "from caredesk.accounts.models import Role; from caredesk.accounts.services import create_agent, create_token; "
                "a = create_agent(email='ops@example.test', name='Ops', role=Role.ADMIN, password=None); "
                "print(create_token(a).token)"
            ),
        )
        .strip()
        .splitlines()[-1]
    )
    processes = {}
    ports = [free_port(), free_port()]
    for i, port in enumerate(ports):
        processes[f"server{i}"] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "caredesk.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=REPO,
            env=env,
        )
    for i in range(2):
        processes[f"worker{i}"] = subprocess.Popen(
            [sys.executable, "-m", "caredesk", "worker"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    for port in ports:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if (
                    httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code
                    == 200
                ):
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail(f"server on port {port} did not start")
    yield {"env": env, "manage": manage, "token": token, "ports": ports, "processes": processes}
    for process in processes.values():
        process.kill()
        process.wait()
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    redis.Redis.from_url(redis_url).flushdb()


def sql(cluster, query):
    import psycopg

    with psycopg.connect(cluster["env"]["DATABASE_URL"]) as conn:
        return conn.execute(query).fetchall()


def wait_for(predicate, timeout=60, what="condition"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.3)
    pytest.fail(f"timed out waiting for {what}")


def test_a_ticket_created_on_one_server_is_served_by_the_other(cluster):
    a, b = cluster["ports"]
    headers = {"Authorization": f"Bearer {cluster['token']}"}
    payload = {
        "subject": "Cross-process",
        "requester": {"email": "x@example.test", "name": "X"},
        "message": {"body": "hello from server A"},
    }
    created = httpx.post(
        f"http://127.0.0.1:{a}/api/v1/tickets", json=payload, headers=headers, timeout=10
    )
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    fetched = httpx.get(
        f"http://127.0.0.1:{b}/api/v1/tickets/{ticket_id}", headers=headers, timeout=10
    )
    assert fetched.status_code == 200 and fetched.json()["subject"] == "Cross-process"


def test_every_job_runs_exactly_once_across_two_workers(cluster):
    ids = [
        int(x)
        for x in cluster["manage"]("jobs", "probe", "--count", "40", "--seconds", "0.05").split()[
            -40:
        ]
    ]
    id_list = ",".join(map(str, ids))
    wait_for(
        lambda: (
            sql(
                cluster, f"SELECT count(*) FROM core_job WHERE id IN ({id_list}) AND state = 'done'"
            )[0][0]
            == 40
        ),
        what="40 jobs done",
    )
    runs = sql(
        cluster,
        f"SELECT job_id, count(*) FROM core_jobattempt WHERE job_id IN ({id_list}) GROUP BY job_id",
    )
    assert sorted(runs) == [(i, 1) for i in sorted(ids)]


def test_a_job_of_a_killed_worker_is_retried_by_the_other(cluster):
    job_id = int(cluster["manage"]("jobs", "probe", "--seconds", "8").split()[-1])
    row = wait_for(
        lambda: sql(
            cluster, f"SELECT locked_by FROM core_job WHERE id = {job_id} AND state = 'running'"
        ),
        what="job to start",
    )
    victim_pid = int(row[0][0].rsplit(":", 1)[1])
    victim = next(name for name, p in cluster["processes"].items() if p.pid == victim_pid)
    cluster["processes"][victim].send_signal(signal.SIGKILL)
    cluster["processes"][victim].wait()
    time.sleep(3.5)  # the lease (3 s in this test) expires
    cluster["manage"]("jobs", "sweep")
    wait_for(
        lambda: sql(cluster, f"SELECT 1 FROM core_job WHERE id = {job_id} AND state = 'done'"),
        timeout=60,
        what="job finished by the surviving worker",
    )
    attempts = sql(
        cluster, f"SELECT worker, outcome FROM core_jobattempt WHERE job_id = {job_id} ORDER BY id"
    )
    assert len(attempts) == 2
    assert attempts[0][1] == "" and attempts[1][1] == "done"
    assert attempts[1][0].rsplit(":", 1)[1] != str(victim_pid)


NGINX = "/usr/sbin/nginx"


@pytest.fixture(scope="module")
def nginx_front(cluster, tmp_path_factory):
    """docs/deploy/nginx.conf, as shipped, in front of the two servers (only ports and paths changed)."""
    import re

    if not os.path.exists(NGINX):
        pytest.fail(
            "nginx is not installed: scripts/test.sh installs it (apt-get install nginx-light)"
        )
    work = tmp_path_factory.mktemp("nginx")
    (work / "static").mkdir()
    (work / "static" / "probe.txt").write_text("static ok")
    site = (REPO / "docs" / "deploy" / "nginx.conf").read_text()
    a, b = cluster["ports"]
    site = site.replace("127.0.0.1:8001", f"127.0.0.1:{a}").replace(
        "127.0.0.1:8002", f"127.0.0.1:{b}"
    )
    port = free_port()
    site = re.sub(r"listen 80;", f"listen 127.0.0.1:{port};", site)
    site = site.replace("/var/lib/caredesk/static/", f"{work}/static/")
    # Test runs as root with private temp dirs: let nginx's workers read them.
    user = "user root;" if os.geteuid() == 0 else ""
    main = f"""
{user}
daemon off;
pid {work}/nginx.pid;
error_log {work}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {work}/access.log;
    client_body_temp_path {work}/body; proxy_temp_path {work}/proxy;
    fastcgi_temp_path {work}/fcgi; uwsgi_temp_path {work}/uwsgi; scgi_temp_path {work}/scgi;
    {site}
}}
"""
    (work / "nginx.conf").write_text(main)
    check = subprocess.run(
        [NGINX, "-t", "-c", str(work / "nginx.conf"), "-p", str(work)],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen([NGINX, "-c", str(work / "nginx.conf"), "-p", str(work)])
    wait_for(lambda: _answers(port), timeout=20, what="nginx")
    yield port
    process.terminate()
    process.wait()


def _answers(port):
    try:
        return httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_sample_nginx_config_proxies_api_and_static(cluster, nginx_front):
    headers = {"Authorization": f"Bearer {cluster['token']}", "Host": "127.0.0.1"}
    base = f"http://127.0.0.1:{nginx_front}"
    assert httpx.get(f"{base}/static/probe.txt", timeout=5).text == "static ok"
    ids = []
    for i in range(4):
        payload = {
            "subject": f"via nginx {i}",
            "requester": {"email": "n@example.test"},
            "message": {"body": "hi"},
        }
        response = httpx.post(f"{base}/api/v1/tickets", json=payload, headers=headers, timeout=10)
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    assert len(set(ids)) == 4


CHAT_SETUP = """
from importlib import import_module
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
from caredesk.accounts.models import Presence, Team, User
from caredesk.channels.chat.models import ChatWidget
team = Team.objects.create(name="Chat team", slug="chat-team")
agent = User.objects.create_user("chat-agent@example.test", None, name="Cross Agent", presence=Presence.ONLINE)
agent.teams.add(team)
ChatWidget.objects.create(name="Cross", key="cross", team=team, require_email=False)
store = import_module(settings.SESSION_ENGINE).SessionStore()
store[SESSION_KEY] = str(agent.pk)
store[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
store[HASH_SESSION_KEY] = agent.get_session_auth_hash()
store.create()
print(store.session_key)
"""


def test_a_customer_on_one_server_chats_with_an_agent_on_the_other(cluster):
    """channels-redis carries the chat between two server processes."""
    import json

    from websockets.sync.client import connect

    session_key = cluster["manage"]("shell", "-c", CHAT_SETUP).strip().splitlines()[-1]
    a, b = cluster["ports"]

    def frames_until(ws, kind, where=lambda f: True):
        while True:
            frame = json.loads(ws.recv(timeout=15))
            if frame["type"] == kind and where(frame):
                return frame

    with connect(
        f"ws://127.0.0.1:{b}/ws/agent/",
        origin=f"http://127.0.0.1:{b}",
        additional_headers={"Cookie": f"sessionid={session_key}"},
    ) as agent:
        assert frames_until(agent, "hello")["agent"] == "Cross Agent"
        with connect(
            f"ws://127.0.0.1:{a}/ws/chat/cross/", origin=f"http://127.0.0.1:{a}"
        ) as customer:
            frames_until(customer, "hello")
            customer.send(json.dumps({"type": "start", "client_id": "c1", "text": "Hello from A"}))
            offer = frames_until(agent, "offer")
            agent.send(json.dumps({"type": "accept", "session": offer["session"]}))
            frames_until(customer, "joined")
            agent.send(
                json.dumps(
                    {
                        "type": "message",
                        "session": offer["session"],
                        "client_id": "a1",
                        "text": "Hello from B",
                    }
                )
            )
            got = frames_until(customer, "message", lambda f: f["message"]["from"] == "agent")
            assert got["message"]["text"] == "Hello from B"
            customer.send(json.dumps({"type": "message", "client_id": "c2", "text": "Thanks"}))
            frames_until(agent, "message", lambda f: f["message"]["text"] == "Thanks")
    rows = sql(cluster, "SELECT count(*) FROM tickets_message WHERE channel = 'chat'")
    assert rows[0][0] == 3
