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
    from django.db import transaction
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
    chunk = 5000
    for offset in range(0, args.tickets, chunk):
        batch = []
        for n in range(offset, min(offset + chunk, args.tickets)):
            created = now - timedelta(minutes=(args.tickets - n) * 3)
            team = teams[n % 3]
            status = rng.choice(statuses)
            batch.append(
                Ticket(
                    subject=" ".join(rng.choices(WORDS, k=5)).capitalize(),
                    status=status,
                    priority=rng.choice([0, 1, 1, 1, 2, 3]),
                    channel=rng.choice(["email", "chat", "web", "api"]),
                    requester_id=rng.choice(customer_ids),
                    team=team,
                    assignee_id=agents[(n * 7) % len(agents)].pk if status != "new" else None,
                    created_at=created,
                    updated_at=created + timedelta(hours=2),
                )
            )
        with transaction.atomic():
            tickets = Ticket.objects.bulk_create(batch, batch_size=chunk)
            if tickets[0].pk is None:  # backends without RETURNING: read the ids back
                ids = list(
                    Ticket.objects.order_by("-id").values_list("id", flat=True)[: len(batch)]
                )[::-1]
                for ticket, pk in zip(tickets, ids, strict=True):
                    ticket.pk = ticket.id = pk
            messages, events = [], []
            for ticket in tickets:
                rare = args.rare_term and (ticket.pk % args.rare_every == 7)
                for m in range(args.messages):
                    customer_turn = m % 2 == 0
                    body = " ".join(rng.choices(WORDS, k=30))
                    messages.append(
                        Message(
                            ticket_id=ticket.pk,
                            author_kind="customer" if customer_turn else "agent",
                            author_customer_id=ticket.requester_id if customer_turn else None,
                            body_text=f"{body} {args.rare_term}" if rare and m == 0 else body,
                            body_html="",
                            channel=ticket.channel,
                            created_at=ticket.created_at + timedelta(minutes=10 * m),
                        )
                    )
                events.append(
                    TicketEvent(
                        ticket_id=ticket.pk,
                        kind="created",
                        actor_kind="customer",
                        actor_customer_id=ticket.requester_id,
                        data={},
                        created_at=ticket.created_at,
                    )
                )
            Message.objects.bulk_create(messages, batch_size=chunk)
            TicketEvent.objects.bulk_create(events, batch_size=chunk)
        print(f"{offset + len(batch)} tickets ({time.time() - started:.0f}s)", flush=True)
    # auto_now stamped updated_at at insert time; put the intended spread back.
    print(f"done in {time.time() - started:.0f}s")


if __name__ == "__main__":
    main()
