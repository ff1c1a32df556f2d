"""Search latency over a generated data dir (tickets with messages) plus N articles, and the cost
of keeping the index up to date per message.

    python bench/generate.py --data-dir /tmp/cd100k --tickets 100000
    python bench/search.py --data-dir /tmp/cd100k [--articles 10000]
    DATABASE_URL=postgresql://... python bench/search.py --data-dir /tmp/cdpg
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--articles", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=60)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CAREDESK_DATA_DIR"] = args.data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from common import machine
    from django.db import connection, transaction
    from django.utils import timezone

    from caredesk.accounts.models import User
    from caredesk.search.models import SearchDocument
    from caredesk.search.services import ARTICLE_CANDIDATES, CANDIDATES, index_ticket, search
    from caredesk.tickets.models import Message, Ticket

    rng = random.Random(3)
    words = [
        "order",
        "refund",
        "parcel",
        "delivery",
        "invoice",
        "password",
        "login",
        "account",
        "charge",
        "card",
        "shipping",
        "return",
        "broken",
        "missing",
        "late",
        "damaged",
        "subscription",
        "upgrade",
        "cancel",
        "address",
        "payment",
        "warranty",
        "exchange",
        "voucher",
    ]
    started = time.time()
    if SearchDocument.objects.filter(kind="ticket").count() < Ticket.objects.count():
        # The documents index_ticket writes (subject; messages in order, one per line), built in
        # one statement: per-ticket indexing of 100,000 tickets takes 5 to 30 minutes here.
        aggregate = (
            "string_agg(m.body_text, E'\\n' ORDER BY m.id)"
            if connection.vendor == "postgresql"
            else "group_concat(m.body_text, char(10))"
        )
        with transaction.atomic():
            SearchDocument.objects.filter(kind="ticket").delete()
            with connection.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO search_searchdocument "
                    "(kind, object_id, title, body, language, public, updated_at) "
                    f"SELECT 'ticket', t.id, substr(t.subject, 1, 300), {aggregate}, t.language, "
                    "%s, %s FROM tickets_ticket t JOIN "
                    "(SELECT ticket_id, id, body_text FROM tickets_message ORDER BY ticket_id, id) m "
                    "ON m.ticket_id = t.id GROUP BY t.id, t.subject, t.language ORDER BY t.id",
                    [False, timezone.now()],
                )
        print(
            f"indexed {Ticket.objects.count():,} tickets in {time.time() - started:.0f}s",
            flush=True,
        )
    have = SearchDocument.objects.filter(kind="article").count()
    if have < args.articles:
        with transaction.atomic():
            SearchDocument.objects.bulk_create(
                [
                    SearchDocument(
                        kind="article",
                        object_id=10_000_000 + i,
                        title=" ".join(rng.choices(words, k=4)).title(),
                        body=" ".join(rng.choices(words, k=120)),
                        public=True,
                    )
                    for i in range(have, args.articles)
                ],
                batch_size=2000,
            )
    agent = User.objects.filter(is_superuser=False).order_by("id").first() or User.objects.first()
    messages = Message.objects.count()
    queries = [
        "refund",
        "damaged parcel",
        "password login",
        "invoice charge card",
        "xylophone",
        "ship",
        "cancel subscription",
    ]
    print(
        f"# Search — {messages:,} messages, {Ticket.objects.count():,} tickets, {args.articles:,} articles — "
        f"{connection.vendor} — {CANDIDATES:,} candidates per kind ({ARTICLE_CANDIDATES:,} for articles) — {machine()} — {datetime.date.today()}"
    )
    print("| query | hits | p50 ms | p95 ms |\n|---|---|---|---|")
    for query in queries:
        times, hits = [], []
        for _ in range(args.runs):
            t = time.perf_counter()
            hits = search(query, agent=agent, limit=20)
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(
            f"| {query} | {len(hits)} | {times[len(times) // 2]:.1f} | {times[int(len(times) * 0.95) - 1]:.1f} |"
        )
    ticket = Ticket.objects.order_by("-id").first()
    t = time.perf_counter()
    for _ in range(50):
        with transaction.atomic():
            index_ticket(ticket.pk)
    print(
        f"\nindex update per message (re-index of a 5-message ticket): {(time.perf_counter() - t) / 50 * 1000:.2f} ms"
    )


if __name__ == "__main__":
    main()
