"""Bulk data generator for realistic volumes: N tickets with 5 messages each, customers, agents.

    python bench/generate.py --data-dir /tmp/cd100k --tickets 100000 [--customers 50000 --agents 200]
    DATABASE_URL=postgresql://... python bench/generate.py --tickets 100000

Rows go in with bulk inserts (no per-row services), shaped like what the services write.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


# The vocabulary of generated subjects and messages (bench/peer/peer_data.py uses it too, so both
# systems hold the same text).
WORDS = [
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
]


class RowWriter:
    """Inserts rows of one model as plain tuples of the columns that vary; every other column gets
    the model's default, worked out once. Django's bulk_create prepares every field of every object
    again, which was most of the generator's time (about 2 hours for 1M tickets on a busy machine).
    PostgreSQL gets COPY, SQLite executemany. Timestamps are written as given (bulk_create would
    stamp auto_now/auto_now_add fields with the insert time)."""

    def __init__(self, model: Any, varying: list[str]) -> None:
        from django.db import connection

        self.model, self.connection = model, connection
        fields = list(model._meta.concrete_fields)
        template = model()
        self.columns = [f.column for f in fields]
        self.defaults = [
            f.get_db_prep_save(getattr(template, f.attname), connection) for f in fields
        ]
        by_name = {f.name: (i, f) for i, f in enumerate(fields)}
        self.varying = [by_name[name] for name in varying]

    def next_id(self) -> int:
        from django.db.models import Max

        return (self.model.objects.aggregate(top=Max("id"))["top"] or 0) + 1

    def insert(self, rows: list[tuple]) -> None:
        connection, varying = self.connection, self.varying
        prepared = []
        for values in rows:
            row = self.defaults[:]
            for (position, field), value in zip(varying, values, strict=True):
                row[position] = field.get_db_prep_save(value, connection)
            prepared.append(row)
        table = connection.ops.quote_name(self.model._meta.db_table)
        columns = ", ".join(connection.ops.quote_name(c) for c in self.columns)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for row in prepared:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(self.columns))
                cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", prepared)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--customers", type=int, default=50_000)
    parser.add_argument("--agents", type=int, default=200)
    parser.add_argument("--messages", type=int, default=5)
    parser.add_argument(
        "--rare-term",
        default="",
        help="Append this word to the first message of every --rare-every-th ticket",
    )
    parser.add_argument("--rare-every", type=int, default=1000)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["CAREDESK_DATA_DIR"] = args.data_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.management.color import no_style
    from django.db import connection, transaction
    from django.utils import timezone

    from caredesk.accounts.models import Role, Team, Tier, User
    from caredesk.customers.models import Customer, Identity
    from caredesk.tickets.models import Message, Ticket, TicketEvent

    call_command("migrate", verbosity=0)
    rng = random.Random(42)
    started = time.time()
    now = timezone.now()
    teams = [
        Team.objects.get_or_create(slug=s, defaults={"name": n})[0]
        for s, n in (
            ("billing", "Billing"),
            ("technical", "Technical Support"),
            ("orders", "Orders & Logistics"),
        )
    ]
    agents = []
    for i in range(args.agents):
        agent = User(
            email=f"agent{i}@bench.test",
            name=f"Agent {i}",
            role=Role.LEAD if i < 6 else Role.AGENT,
            tier=[Tier.JUNIOR, Tier.MID, Tier.SENIOR][i % 3],
        )
        agent.set_unusable_password()
        agents.append(agent)
    User.objects.bulk_create(agents, batch_size=1000, ignore_conflicts=True)
    agents = list(User.objects.filter(email__endswith="@bench.test").order_by("id"))
    for i, agent in enumerate(agents):
        agent.teams.add(teams[i % 3])
    customers = [
        Customer(name=f"Customer {i}", email=f"c{i}@bench.test") for i in range(args.customers)
    ]
    with transaction.atomic():
        Customer.objects.bulk_create(customers, batch_size=5000)
    customer_ids = list(
        Customer.objects.filter(email__endswith="@bench.test").values_list("id", flat=True)
    )
    with transaction.atomic():
        Identity.objects.bulk_create(
            [
                Identity(customer_id=cid, kind="email", value=f"c{n}@bench.test")
                for n, cid in enumerate(customer_ids)
            ],
            batch_size=5000,
            ignore_conflicts=True,
        )
    print(f"customers/agents in {time.time() - started:.0f}s", flush=True)
    statuses = ["new", "open", "open", "pending", "on_hold", "solved", "solved", "closed"]
    ticket_rows = RowWriter(
        Ticket,
        [
            "id",
            "subject",
            "status",
            "priority",
            "channel",
            "requester",
            "team",
            "assignee",
            "created_at",
            "updated_at",
        ],
    )
    message_rows = RowWriter(
        Message,
        ["id", "ticket", "author_kind", "author_customer", "body_text", "channel", "created_at"],
    )
    event_rows = RowWriter(
        TicketEvent, ["id", "ticket", "kind", "actor_kind", "actor_customer", "created_at"]
    )
    next_ticket_id = ticket_rows.next_id()
    next_message_id = message_rows.next_id()
    next_event_id = event_rows.next_id()
    chunk = 5000
    for offset in range(0, args.tickets, chunk):
        tickets, messages, events = [], [], []
        for n in range(offset, min(offset + chunk, args.tickets)):
            created = now - timedelta(minutes=(args.tickets - n) * 3)
            team = teams[n % 3]
            subject = " ".join(rng.choices(WORDS, k=5)).capitalize()
            status = rng.choice(statuses)
            priority = rng.choice([0, 1, 1, 1, 2, 3])
            channel = rng.choice(["email", "chat", "web", "api"])
            requester_id = rng.choice(customer_ids)
            assignee_id = agents[(n * 7) % len(agents)].pk if status != "new" else None
            tickets.append(
                (
                    next_ticket_id,
                    subject,
                    status,
                    priority,
                    channel,
                    requester_id,
                    team.pk,
                    assignee_id,
                    created,
                    min(created + timedelta(hours=2), now),
                )
            )
            next_ticket_id += 1
        for ticket_id, _, _, _, channel, requester_id, _, _, created, _ in tickets:
            rare = args.rare_term and (ticket_id % args.rare_every == 7)
            for m in range(args.messages):
                customer_turn = m % 2 == 0
                body = " ".join(rng.choices(WORDS, k=30))
                messages.append(
                    (
                        next_message_id,
                        ticket_id,
                        "customer" if customer_turn else "agent",
                        requester_id if customer_turn else None,
                        f"{body} {args.rare_term}" if rare and m == 0 else body,
                        channel,
                        created + timedelta(minutes=10 * m),
                    )
                )
                next_message_id += 1
            events.append((next_event_id, ticket_id, "created", "customer", requester_id, created))
            next_event_id += 1
        with transaction.atomic():
            ticket_rows.insert(tickets)
            message_rows.insert(messages)
            event_rows.insert(events)
        print(f"{offset + len(tickets)} tickets ({time.time() - started:.0f}s)", flush=True)
    # Rows went in with explicit ids: move the id sequences past them (PostgreSQL).
    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), [Ticket, Message, TicketEvent]):
            cursor.execute(sql)
    print(f"done in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
