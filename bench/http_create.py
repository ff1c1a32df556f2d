"""Ticket creation over HTTP: caredesk (uvicorn, 2 workers, SQLite or DATABASE_URL) with 1 and 8
clients, against a bare ASGI app on the same server as the limit.

    python bench/http_create.py [--requests 2000]   (DATABASE_URL=postgresql://... for PostgreSQL)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import HEADER, fresh_install, load, machine, start_server  # noqa: E402


def body(i: int) -> dict:
    return {
        "subject": f"Bench ticket {i}",
        "requester": {"email": f"bench{i % 500}@example.test", "name": "Bench"},
        "message": {"body": "My order arrived damaged, please help."},
        "tags": ["bench"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()
    extra = {}
    if os.environ.get("DATABASE_URL"):
        extra["DATABASE_URL"] = os.environ["DATABASE_URL"]
    env, token = fresh_install(**extra)
    headers = {"Authorization": f"Bearer {token}"}
    results = []
    server, port = start_server(env, "caredesk.asgi:application")
    try:
        load(
            "warm-up",
            "POST",
            f"http://127.0.0.1:{port}/api/v1/tickets",
            clients=2,
            total=100,
            body_for=body,
            headers=headers,
        )
        for clients in (1, 8):
            results.append(
                load(
                    "caredesk create ticket",
                    "POST",
                    f"http://127.0.0.1:{port}/api/v1/tickets",
                    clients=clients,
                    total=args.requests,
                    body_for=body,
                    headers=headers,
                )
            )
    finally:
        server.terminate()
        server.wait()
    hello, port = start_server(
        {**env, "PYTHONPATH": str(Path(__file__).resolve().parent)}, "hello_asgi:app"
    )
    try:
        for clients in (1, 8):
            results.append(
                load(
                    "bare ASGI limit",
                    "POST",
                    f"http://127.0.0.1:{port}/",
                    clients=clients,
                    total=args.requests,
                    body_for=body,
                )
            )
    finally:
        hello.terminate()
        hello.wait()
    vendor = "PostgreSQL" if extra else "SQLite"
    print(f"# Ticket creation over HTTP — {vendor} — {machine()} — {datetime.date.today()}")
    print(HEADER)
    for result in results:
        print(result.row())
    for clients in (1, 8):
        ours = next(r for r in results if r.name.startswith("caredesk") and r.clients == clients)
        limit = next(r for r in results if r.name.startswith("bare") and r.clients == clients)
        print(
            f"\n{clients} client(s): caredesk reaches {ours.throughput / limit.throughput:.0%} of the bare ASGI limit"
        )


if __name__ == "__main__":
    main()
