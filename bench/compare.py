"""caredesk against django-helpdesk 2.6.1, in one run on one machine: ticket creation over HTTP
(1 and 8 clients), the 25-row ticket list and search (a common and a rare term) at N tickets, and
the bare ASGI limit.

    python bench/compare.py [--tickets 10000 --requests 500 --reads 100]

Both servers run 2 worker processes with DEBUG off (caredesk: uvicorn --workers 2; the peer:
gunicorn with 2 sync workers), one at a time, the client on the same machine. The peer gets its
own virtualenv and project (bench/peer/setup_helpdesk.sh, created on first use). Both data sets
come from the same generator vocabulary: N tickets of 5 messages, a rare word in every 1000th.
Results: a Markdown table on stdout and bench/out/compare.json (for bench/charts.py).
"""

from __future__ import annotations

import argparse
import base64
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    HEADER,
    PYTHON,
    REPO,
    Result,
    agent_session,
    free_port,
    fresh_install,
    load,
    machine,
    manage,
    start_server,
    wait_for_port,
    write_json,
)
from http_create import body as caredesk_body  # noqa: E402

PEER = REPO / "bench" / "peer"
PEER_PYTHON = PEER / "venv" / "bin" / "python"
COMMON_TERM = "refund"
RARE_TERM = "refurbished"  # appended to the first message of every 1000th ticket by both generators


INDEX_TICKETS = """
from django.db import transaction
from caredesk.search.services import index_ticket
from caredesk.tickets.models import Ticket
ids = list(Ticket.objects.values_list("id", flat=True))
for offset in range(0, len(ids), 2000):
    with transaction.atomic():
        for ticket_id in ids[offset : offset + 2000]:
            index_ticket(ticket_id)
"""


def caredesk_instance(tickets: int) -> tuple[dict[str, str], str, str]:
    """A caredesk data dir with N generated, indexed tickets; an admin token and a lead's session."""
    env, token = fresh_install()
    subprocess.run(
        [
            PYTHON,
            str(REPO / "bench" / "generate.py"),
            "--tickets",
            str(tickets),
            "--customers",
            str(max(1, tickets // 2)),
            "--agents",
            "50",
            "--rare-term",
            RARE_TERM,
        ],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    # Index the tickets in batches of 2,000 per transaction, as bench/search.py does.
    manage(env, "shell", "-c", INDEX_TICKETS)
    # The lead works in all three teams, so "all open in my teams" holds every open ticket, as
    # the peer's list does for its superuser.
    session = agent_session(env, "agent0@bench.test", all_teams=True)
    return env, token, session


def peer_env(data_dir: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAREDESK_", "DJANGO_", "PYTHON", "VIRTUAL_ENV"))
    }
    env["PEER_DATA_DIR"] = str(data_dir)
    env["DJANGO_SETTINGS_MODULE"] = "peer_settings"
    return env


def peer_instance(tickets: int) -> dict[str, str]:
    env = peer_env(Path(tempfile.mkdtemp(prefix="helpdesk-bench-")))
    subprocess.run(
        ["sh", str(PEER / "setup_helpdesk.sh")], env=env, check=True, capture_output=True
    )
    subprocess.run(
        [
            str(PEER_PYTHON),
            str(PEER / "peer_data.py"),
            "generate",
            "--tickets",
            str(tickets),
            "--customers",
            str(max(1, tickets // 2)),
            "--rare-term",
            RARE_TERM,
        ],
        env=env,
        check=True,
        capture_output=True,
    )
    return env


def start_peer(env: dict[str, str]) -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [
            str(PEER / "venv" / "bin" / "gunicorn"),
            "peer_wsgi:application",
            "--chdir",
            str(PEER / "project"),
            "--workers",
            "2",
            "--worker-class",
            "sync",
            "--bind",
            f"127.0.0.1:{port}",
            "--no-control-socket",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    wait_for_port(process, port, "gunicorn (django-helpdesk)")
    return process, port


def peer_login(port: int) -> dict[str, str]:
    """Session + CSRF headers for the peer's API, from a real log-in at /login/."""
    import httpx

    base = f"http://127.0.0.1:{port}"
    with httpx.Client(base_url=base, timeout=30) as client:
        client.get("/login/").raise_for_status()
        response = client.post(
            "/login/",
            data={
                "username": "bench",
                "password": "bench-password",
                "next": "/",
                "csrfmiddlewaretoken": client.cookies["csrftoken"],
            },
            headers={"Referer": f"{base}/login/"},
        )
        if "sessionid" not in client.cookies:
            raise RuntimeError(f"peer log-in failed: HTTP {response.status_code}")
        csrf, session = client.cookies["csrftoken"], client.cookies["sessionid"]
    return {
        "Cookie": f"csrftoken={csrf}; sessionid={session}",
        "X-CSRFToken": csrf,
        "Referer": f"{base}/",
    }


def peer_list_url(port: int, search: str = "") -> str:
    query: dict = {
        "filtering": {} if search else {"status__in": [1, 2]},
        "filtering_null": {},
        "sorting": "created",
        "sortreverse": False,
        "search_string": search,
    }
    encoded = base64.b64encode(json.dumps(query).encode()).decode()
    return (
        f"http://127.0.0.1:{port}/datatables_ticket_list/{encoded}"
        "?draw=1&start=0&length=25&order%5B0%5D%5Bcolumn%5D=5&order%5B0%5D%5Bdir%5D=desc"
    )


def peer_body(i: int) -> dict:
    return {
        "queue": 1,
        "title": f"Bench ticket {i}",
        "description": "My order arrived damaged, please help.",
        "submitter_email": f"bench{i % 500}@example.test",
        "priority": 3,
    }


def probe(method: str, url: str, headers: dict[str, str], expect: int, json_body=None) -> None:
    """One request first: a redirect to a log-in page would otherwise pass as a fast success."""
    import httpx

    response = httpx.request(method, url, headers=headers, json=json_body, timeout=60)
    if response.status_code != expect:
        raise RuntimeError(f"{method} {url}: HTTP {response.status_code}, expected {expect}")


@dataclass
class Scenario:
    system: str
    scenario: str
    method: str
    url: str
    headers: dict[str, str]
    clients: int = 1
    body_for: Callable[[int], dict] | None = None


def measure(s: Scenario, total: int) -> tuple[str, str, Result]:
    expect = 201 if s.method == "POST" else 200
    probe(s.method, s.url, s.headers, expect, s.body_for(10**6) if s.body_for else None)
    load(
        "warm-up",
        s.method,
        s.url,
        clients=s.clients,
        total=10,
        body_for=s.body_for,
        headers=s.headers,
    )
    label = "create ticket" if s.scenario == "create" else s.scenario
    result = load(
        f"{s.system}: {label}",
        s.method,
        s.url,
        clients=s.clients,
        total=total,
        body_for=s.body_for,
        headers=s.headers,
    )
    print(f"  {result.row()}", file=sys.stderr, flush=True)
    return s.system, s.scenario, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=500, help="creations per client count")
    parser.add_argument("--reads", type=int, default=100, help="requests per read scenario")
    parser.add_argument(
        "--reads-only", action="store_true", help="list and search only (growth runs)"
    )
    parser.add_argument("--out", default="compare", help="name of the JSON file in bench/out/")
    args = parser.parse_args()
    started = time.time()
    load_before = os.getloadavg()
    rows: list[tuple[str, str, Result]] = []

    print(f"caredesk: generating {args.tickets:,} tickets and indexing them...", file=sys.stderr)
    env, token, session = caredesk_instance(args.tickets)
    print(f"django-helpdesk: generating {args.tickets:,} tickets...", file=sys.stderr)
    penv = peer_instance(args.tickets)
    # Both servers up for the whole run and measured in turns, scenario by scenario, so that a
    # change in the machine's other load hits both sides alike. The idle one uses no CPU.
    ours, port = start_server(env, "caredesk.asgi:application")
    try:
        peer, peer_port = start_peer(penv)
    except BaseException:
        ours.terminate()
        raise
    try:
        base, peer_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{peer_port}"
        bearer = {"Authorization": f"Bearer {token}"}
        auth = peer_login(peer_port)
        peer_json = {**auth, "Accept": "application/json"}
        search = f"{base}/api/v1/search?type=ticket&limit=25&q="
        read_rounds = [
            [
                Scenario(
                    "caredesk",
                    "list: inbox first page (HTML)",
                    "GET",
                    f"{base}/agent/?view=team",
                    {"Cookie": f"sessionid={session}"},
                ),
                Scenario(
                    "caredesk",
                    "list: API 25 open",
                    "GET",
                    f"{base}/api/v1/tickets?limit=25&status=open",
                    bearer,
                ),
                Scenario(
                    "django-helpdesk",
                    "list: datatables 25 open",
                    "GET",
                    peer_list_url(peer_port),
                    auth,
                ),
            ],
            [
                Scenario("caredesk", "search: common term", "GET", search + COMMON_TERM, bearer),
                Scenario(
                    "django-helpdesk",
                    "search: common term",
                    "GET",
                    peer_list_url(peer_port, COMMON_TERM),
                    auth,
                ),
            ],
            [
                Scenario("caredesk", "search: rare term", "GET", search + RARE_TERM, bearer),
                Scenario(
                    "django-helpdesk",
                    "search: rare term",
                    "GET",
                    peer_list_url(peer_port, RARE_TERM),
                    auth,
                ),
            ],
        ]
        for round_ in read_rounds:
            rows += [measure(s, args.reads) for s in round_]
        for clients in () if args.reads_only else (1, 8):
            rows.append(
                measure(
                    Scenario(
                        "caredesk",
                        "create",
                        "POST",
                        f"{base}/api/v1/tickets",
                        bearer,
                        clients,
                        caredesk_body,
                    ),
                    args.requests,
                )
            )
            rows.append(
                measure(
                    Scenario(
                        "django-helpdesk",
                        "create",
                        "POST",
                        f"{peer_base}/api/tickets/",
                        peer_json,
                        clients,
                        peer_body,
                    ),
                    args.requests,
                )
            )
    finally:
        for process in (ours, peer):
            process.terminate()
            process.wait()

    hello, port = start_server(
        {**env, "PYTHONPATH": str(REPO / "bench")}, "hello_asgi:app", workers=2
    )
    try:
        for clients in (1, 8):
            result = load(
                "bare ASGI limit",
                "POST",
                f"http://127.0.0.1:{port}/",
                clients=clients,
                total=max(args.requests, 1000),
                body_for=caredesk_body,
            )
            rows.append(("limit", "bare ASGI", result))
    finally:
        hello.terminate()
        hello.wait()

    def find(system: str, scenario: str, clients: int = 1) -> Result:
        return next(
            r for s, sc, r in rows if s == system and sc == scenario and r.clients == clients
        )

    ratios = {}
    for clients in () if args.reads_only else (1, 8):
        ratios[f"create throughput, {clients} client(s), caredesk/peer"] = (
            find("caredesk", "create", clients).throughput
            / find("django-helpdesk", "create", clients).throughput
        )
    peer_list = find("django-helpdesk", "list: datatables 25 open")
    for scenario in ("list: inbox first page (HTML)", "list: API 25 open"):
        ratios[f"{scenario}: peer p95 / caredesk p95"] = peer_list.pct(95) / find(
            "caredesk", scenario
        ).pct(95)
    for scenario in ("search: common term", "search: rare term"):
        ratios[f"{scenario}: peer p95 / caredesk p95"] = find("django-helpdesk", scenario).pct(
            95
        ) / find("caredesk", scenario).pct(95)
    create_goal = not args.reads_only and all(
        v >= 25 for k, v in ratios.items() if k.startswith("create")
    )
    read_goal = all(v >= 10 for k, v in ratios.items() if "p95" in k)

    print(
        f"# caredesk vs django-helpdesk 2.6.1 — {args.tickets:,} tickets — {machine()} — "
        f"{datetime.date.today()} — load average before {load_before[0]:.2f}, after "
        f"{os.getloadavg()[0]:.2f} — {time.time() - started:.0f} s"
    )
    print(HEADER)
    for _system, _scenario, result in rows:
        print(result.row())
    print("\n| ratio | value |\n|---|---|")
    for name, value in ratios.items():
        print(f"| {name} | {value:.1f}× |")
    print(
        f"\ngoal ≥ 25× creation throughput: {'met' if create_goal else 'not met'}; "
        f"goal list and search p95 ≥ 10× lower: {'met' if read_goal else 'not met'}"
    )
    path = write_json(
        args.out,
        {
            "date": str(datetime.date.today()),
            "machine": machine(),
            "tickets": args.tickets,
            "load_average": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
            "seconds": round(time.time() - started),
            "results": [{"system": s, "scenario": sc, **r.to_dict()} for s, sc, r in rows],
            "ratios": {k: round(v, 2) for k, v in ratios.items()},
            "goals": {"create_25x": create_goal, "reads_10x": read_goal},
        },
    )
    print(f"\n(results in {path.relative_to(REPO)})", file=sys.stderr)


if __name__ == "__main__":
    main()
