"""Server time of the agent inbox (first page) and a ticket page, and the API ticket list, at the
volume of a given data dir (make one with bench/generate.py).

    python bench/workspace_pages.py --data-dir /tmp/cd100k [--runs 50]
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CAREDESK_DATA_DIR"] = args.data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    import django

    django.setup()
    from common import machine
    from django.core import signals
    from django.db import close_old_connections, connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

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
    total = Ticket.objects.count()
    print(
        f"# Workspace server time — {total:,} tickets — {connection.vendor} — {machine()} — {datetime.date.today()}"
    )
    print("| page | queries | p50 ms | p95 ms | p99 ms |\n|---|---|---|---|---|")
    for name, url in pages.items():
        headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if url.startswith("/api/") else {}
        client.get(url, **headers)  # warm
        with CaptureQueriesContext(connection) as queries:
            connection.ensure_connection()
            response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code)
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            client.get(url, **headers)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()

        def pct(p: float) -> float:
            return times[min(len(times) - 1, int(round(p / 100 * (len(times) - 1))))]

        print(
            f"| {name} | {len(queries.captured_queries)} | {pct(50):.1f} | {pct(95):.1f} | {pct(99):.1f} |"
        )


if __name__ == "__main__":
    main()
