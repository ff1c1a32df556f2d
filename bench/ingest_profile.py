"""Where ticket creation and inbound ingestion spend their time, in-process (no HTTP, no SMTP).

    python bench/ingest_profile.py [--n 200] [--chat-lines 300]

Runs against a fresh SQLite instance in a temp directory and reports, per operation: wall ms,
SQL statements (including those of the receivers run on commit) and the time each
change receiver takes. Operations:

- create: `tickets.services.create_ticket` for a known requester, one message, one tag
- ingest new: `tickets.services.ingest` of a first message (new ticket)
- chat line: `ingest` with ticket_hint onto one long chat, as `chat.services.visitor_message` does
  (late lines are reported separately: their cost must not grow with the chat's length)
- email: `channels.email.services.receive` of a new message, the same in batches as the SMTP
  listener writes them under load (`receive_batch`, figures per message), then replies in one
  thread
- `--cprofile`: also print the functions where the batched email path spends its CPU
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def setup() -> None:
    os.environ["CAREDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="caredesk-profile-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    os.environ["CAREDESK_LOG_LEVEL"] = "WARNING"
    os.environ["CAREDESK_EMAIL_SENDER_RATE"] = "1000000"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    sys.path.insert(0, str(REPO))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


RECEIVER_TIME: dict[str, float] = defaultdict(float)
RECEIVER_QUERIES: dict[str, int] = defaultdict(int)


def time_receivers() -> None:
    """Wrap every change receiver so its time and queries are counted by name."""
    from django.db import connection

    from caredesk.tickets import changes

    for registration in list(changes._receivers):

        def timed(
            batch: Any, receive: Any = registration.receive, name: str = registration.name
        ) -> Any:
            before = len(connection.queries_log)
            started = time.perf_counter()
            result = receive(batch)
            RECEIVER_TIME[name] += time.perf_counter() - started
            RECEIVER_QUERIES[name] += len(connection.queries_log) - before
            return result

        changes.register(registration.name, timed, order=registration.order)


def measure(
    label: str, n: int, op: Callable[[int], Any], rows: list[tuple[Any, ...]], per: int = 1
) -> None:
    """Run op(i) n times; `per` messages per op (a batch) turns the figures into per-message ones."""
    from django.db import connection, reset_queries

    RECEIVER_TIME.clear()
    RECEIVER_QUERIES.clear()
    walls, queries = [], []
    cpu_started = time.process_time()
    for i in range(n):
        reset_queries()
        started = time.perf_counter()
        op(i)
        walls.append((time.perf_counter() - started) * 1000)
        queries.append(len(connection.queries_log))
    cpu_ms = (time.process_time() - cpu_started) * 1000 / (n * per)
    receivers = ", ".join(
        f"{name.split(':')[0]} {RECEIVER_TIME[name] / (n * per) * 1000:.2f} ms"
        f"/{RECEIVER_QUERIES[name] / (n * per):.1f} q"
        for name in sorted(RECEIVER_TIME, key=RECEIVER_TIME.get, reverse=True)  # type: ignore[arg-type]
    )
    rows.append(
        (
            label,
            n * per,
            statistics.mean(walls) / per,
            statistics.median(walls) / per,
            cpu_ms,
            statistics.mean(queries) / per,
            receivers,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--chat-lines", type=int, default=300)
    parser.add_argument("--cprofile", action="store_true")
    args = parser.parse_args()
    setup()
    from django.conf import settings
    from django.db import connection

    settings.DEBUG = True  # keeps connection.queries_log
    connection.force_debug_cursor = True
    time_receivers()

    sys.path.insert(0, str(REPO / "bench"))
    from email_smtp import SUPPORT, message

    from caredesk.accounts.models import Role
    from caredesk.accounts.services import create_agent
    from caredesk.channels.email import services as email
    from caredesk.channels.email.models import Mailbox
    from caredesk.customers.services import find_or_create_customer
    from caredesk.tickets import services as tickets

    agent = create_agent(
        email="profile@example.test", name="Profile", role=Role.ADMIN, password=None
    )
    Mailbox.objects.get_or_create(address=SUPPORT, defaults={"auto_acknowledge": False})
    requester, _ = find_or_create_customer("email", "known@example.test", name="Known")
    rows: list[tuple[Any, ...]] = []

    measure(
        "create_ticket (known requester, message, tag)",
        args.n,
        lambda i: tickets.create_ticket(
            agent,
            subject=f"Profile {i}",
            requester=requester,
            body_text="My order arrived damaged, please help.",
            tags=["bench"],
        ),
        rows,
    )

    def inbound(i: int, **extra: Any) -> tickets.InboundMessage:
        return tickets.InboundMessage(
            channel="chat",
            sender=tickets.SenderIdentity("email", f"visitor{i % 50}@example.test", "Visitor"),
            body_text=f"Line {i}: where is my parcel?",
            subject="Parcel",
            external_id=f"profile:{time.time_ns()}:{i}",
            **extra,
        )

    measure("ingest, new ticket", args.n, lambda i: tickets.ingest(inbound(i)), rows)
    chat = tickets.ingest(inbound(0)).ticket
    half = args.chat_lines // 2
    measure(
        f"chat line (ingest with ticket_hint), lines 1-{half}",
        half,
        lambda i: tickets.ingest(inbound(0, ticket_hint=chat.pk)),
        rows,
    )
    measure(
        f"chat line, lines {half + 1}-{2 * half}",
        half,
        lambda i: tickets.ingest(inbound(0, ticket_hint=chat.pk)),
        rows,
    )
    payloads = [message(i + 10**6) for i in range(args.n)]
    measure(
        "email receive, new ticket",
        args.n,
        lambda i: email.receive(payloads[i], recipients=[SUPPORT]),
        rows,
    )
    batch = 32
    batched = [message(i + 2 * 10**6) for i in range(args.n)]
    measure(
        f"email receive_batch ({batch} per batch, as the SMTP listener under load), new ticket",
        args.n // batch,
        lambda i: email.receive_batch(
            [(raw, [SUPPORT]) for raw in batched[i * batch : (i + 1) * batch]]
        ),
        rows,
        per=batch,
    )
    first = email.receive(message(10**7), recipients=[SUPPORT])
    root = tickets.Message.objects.get(pk=first.message_id).external_id

    def reply(i: int) -> None:
        # From the first message's sender (the same address every 300): a participant, whose
        # reply threads (anyone else's opens a new, linked ticket).
        raw = message(10**7 + 300 * (i + 1)).replace(
            b"Subject:", f"In-Reply-To: {root}\r\nReferences: {root}\r\nSubject:".encode(), 1
        )
        email.receive(raw, recipients=[SUPPORT])

    measure("email receive, reply in one thread", args.n, reply, rows)

    print(f"# ingest profile, SQLite, n={args.n}")
    print("| operation | ops | mean ms | p50 ms | CPU ms | SQL/op | change receivers (per op) |")
    print("|---|---|---|---|---|---|---|")
    for label, n, mean, p50, cpu, queries, receivers in rows:
        print(
            f"| {label} | {n} | {mean:.2f} | {p50:.2f} | {cpu:.2f} | {queries:.1f} | {receivers} |"
        )
    if args.cprofile:
        import cProfile
        import pstats

        profile_batch = [message(i + 3 * 10**6) for i in range(args.n)]
        profiler = cProfile.Profile()
        profiler.enable()
        for start in range(0, args.n, batch):
            email.receive_batch([(raw, [SUPPORT]) for raw in profile_batch[start : start + batch]])
        profiler.disable()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats("caredesk/", 40)


if __name__ == "__main__":
    main()
