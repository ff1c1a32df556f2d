"""Server time of the agent inbox (first page) and a ticket page, and the API ticket list, at the
volume of a given data dir (make one with bench/generate.py).

    python bench/workspace_pages.py --data-dir /tmp/cd100k [--runs 50] [--profile]
    DATABASE_URL=postgresql://... python bench/workspace_pages.py --data-dir /tmp/cd100k-pg

Requests go through the Django test client (no network, no server), so the figures are the
server's own time. For each page: the SQL statements of one request and their time, wall p50/p95/
p99 over --runs requests and the process CPU time per request (median). --profile prints where one
page's time goes (cProfile, top functions by cumulative time) instead of timing.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


class StatementTimer:
    """Counts the SQL statements run on a connection inside the block and adds up their time.
    (CaptureQueriesContext reads connection.queries, which Django resets at every request start,
    so it saw nothing of a request made through the test client.)"""

    def __init__(self, connection) -> None:
        self.connection = connection
        self.count = 0
        self.seconds = 0.0

    def __call__(self, execute, sql, params, many, context):
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - started
            self.count += 1

    def __enter__(self) -> StatementTimer:
        self._wrapper = self.connection.execute_wrapper(self)
        self._wrapper.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._wrapper.__exit__(*exc)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--profile", default="", help="profile this page (a name's first word)")
    parser.add_argument("--out", default="", help="also write the results to bench/out/NAME.json")
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CAREDESK_DATA_DIR"] = args.data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    import django

    django.setup()
    from common import machine, write_json
    from django.core import signals
    from django.db import close_old_connections, connection
    from django.test import Client

    from caredesk.accounts.models import User
    from caredesk.accounts.services import create_token
    from caredesk.tickets.models import Ticket

    # Keep one connection, as a long-running server process does.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    agent = User.objects.filter(email__endswith="@bench.test", role="agent").order_by("id").first()
    ticket = Ticket.objects.filter(team__in=agent.teams.all()).order_by("-id").first()
    token = create_token(agent).token
    client = Client()
    client.force_login(agent)
    pages = {
        "inbox first page (my open)": "/agent/?view=mine",
        "inbox first page (team open)": "/agent/?view=team",
        "ticket page": f"/agent/tickets/{ticket.pk}/",
        "API ticket list (25)": "/api/v1/tickets?limit=25&status=open",
    }
    # Parts of the ticket page loaded after it (the Workflow card on load, the customer edit form
    # when opened), where the code has them: their cost is not in the page's own time.
    from django.urls import NoReverseMatch, reverse

    for name, route in (
        ("ticket page: Workflow card (after the page)", "agent:ticket-workflow"),
        ("ticket page: customer form (when opened)", "agent:ticket-customer-form"),
    ):
        with contextlib.suppress(NoReverseMatch):
            pages[name] = reverse(route, kwargs={"number": ticket.pk})
    total = Ticket.objects.count()
    load = os.getloadavg()
    print(
        f"# Workspace server time — {total:,} tickets — {connection.vendor} — {machine()} — "
        f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC — load average "
        f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    print(
        "| page | SQL statements | SQL ms | p50 ms | p95 ms | p99 ms | CPU ms (median) |\n"
        "|---|---|---|---|---|---|---|"
    )
    results = []
    for name, url in pages.items():
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if url.startswith("/api/") else {}
        client.get(url, **headers)  # warm
        with StatementTimer(connection) as statements:
            response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
        if args.profile:
            if name.split()[0] == args.profile:
                profile(lambda url=url, headers=headers: client.get(url, **headers))
            continue
        times, cpu = [], []
        for _ in range(args.runs):
            started, started_cpu = time.perf_counter(), time.process_time()
            client.get(url, **headers)
            times.append((time.perf_counter() - started) * 1000)
            cpu.append((time.process_time() - started_cpu) * 1000)
        times.sort()
        cpu.sort()

        def pct(p: float, data: list[float] = times) -> float:
            return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))]

        print(
            f"| {name} | {statements.count} | {statements.seconds * 1000:.1f} | {pct(50):.1f} | "
            f"{pct(95):.1f} | {pct(99):.1f} | {pct(50, cpu):.1f} |",
            flush=True,
        )
        results.append(
            {
                "page": name,
                "statements": statements.count,
                "sql_ms": round(statements.seconds * 1000, 2),
                "p50_ms": round(pct(50), 2),
                "p95_ms": round(pct(95), 2),
                "p99_ms": round(pct(99), 2),
                "cpu_ms": round(pct(50, cpu), 2),
            }
        )
    if args.out and results:
        write_json(
            args.out,
            {
                "date": str(datetime.date.today()),
                "machine": machine(),
                "tickets": total,
                "vendor": connection.vendor,
                "load_average": [round(v, 2) for v in (load[0], os.getloadavg()[0])],
                "results": results,
            },
        )


def profile(request) -> None:
    import cProfile
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(20):
        request()
    profiler.disable()
    pstats.Stats(profiler).sort_stats(os.environ.get("PROFILE_SORT", "cumulative")).print_stats(
        int(os.environ.get("PROFILE_LINES", "45"))
    )


if __name__ == "__main__":
    main()
