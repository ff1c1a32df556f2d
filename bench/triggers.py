"""Trigger evaluation overhead per ticket event with 200 active rules.

    python bench/triggers.py [--rules 200 --events 1000]

The rules listen to a mix of event kinds and test every kind of condition (fields, tags, the
customer, the message body); none of them holds for the benchmark tickets, so what is measured
is the cost of deciding that nothing fires, which every ticket event pays. Fresh SQLite data dir
(or DATABASE_URL).
"""

from __future__ import annotations

import argparse
import datetime
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

EVENT_KINDS = ["created", "message_added", "status_changed", "priority_changed", "tags_changed"]


def make_rules(count: int, seed: int = 11) -> None:
    from caredesk.automation.models import Trigger
    from caredesk.automation.services import save_trigger

    rng = random.Random(seed)
    never = [
        {"field": "subject", "op": "contains", "value": "xylophone"},
        {"field": "body", "op": "contains", "value": "quasar"},
        {"field": "tags", "op": "is", "value": "never-used"},
        {"field": "category", "op": "is", "value": "nothing"},
        {"field": "customer_email", "op": "contains", "value": "@nowhere.invalid"},
        {"field": "reopened_count", "op": "gte", "value": 99},
    ]
    usual = [
        {"field": "status", "op": "in", "value": ["new", "open"]},
        {"field": "priority", "op": "is_not", "value": "low"},
        {"field": "channel", "op": "is", "value": "email"},
        {"field": "customer_vip", "op": "is", "value": False},
        {"field": "language", "op": "is", "value": "en"},
    ]
    for n in range(count):
        save_trigger(
            Trigger(
                name=f"Rule {n}",
                events=rng.sample(EVENT_KINDS, rng.randint(1, 3)),
                # Conditions that often hold come first, so most rules test more than one.
                conditions=[*rng.sample(usual, rng.randint(0, 2)), rng.choice(never)],
                actions=[{"type": "add_tags", "value": [f"rule-{n}"]}],
                position=n,
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--events", type=int, default=1000)
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        os.environ["CAREDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="caredesk-bench-triggers-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    os.environ.setdefault("CAREDESK_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from common import QueryCounter, machine
    from django.core.management import call_command
    from django.db import connection

    from caredesk.automation.services import on_ticket_event
    from caredesk.customers.services import create_customer
    from caredesk.tickets.models import EventKind, TicketEvent
    from caredesk.tickets.services import Actor, create_ticket, post_message

    call_command("migrate", verbosity=0)
    make_rules(args.rules)
    rng = random.Random(3)
    customer = create_customer(name="Trigger bench", email="tb@bench.test")
    tickets = [
        create_ticket(
            Actor.of_customer(customer),
            subject=f"Order {n} did not arrive",
            requester=customer,
            body_text="My parcel is late, please help.",
            tags=rng.sample(["shipping", "late", "refund", "vip"], 2),
            language="en",
        )
        for n in range(50)
    ]
    for ticket in tickets:
        post_message(Actor.of_customer(customer), ticket, body_text="Any news on my order?")
    events = list(
        TicketEvent.objects.filter(kind__in=[EventKind.CREATED, EventKind.MESSAGE_ADDED])
        .order_by("id")
        .values_list("ticket_id", "id", "kind", "actor_kind", "data")
    )
    print(
        f"# Triggers — {args.rules} active rules, {args.events:,} events — {connection.vendor}"
        f" — {machine()} — {datetime.date.today()}"
    )
    # Called as the receiver calls it: the announcement of ticket services says who acted and on
    # which messages.
    calls = [
        (
            ticket_id,
            [kind],
            [event_id],
            actor_kind,
            [(data["message_id"], data.get("author_kind"))] if "message_id" in data else [],
        )
        for ticket_id, event_id, kind, actor_kind, data in events
    ]
    for ticket_id, kinds, event_ids, actor_kind, messages in calls[:20]:  # warm
        on_ticket_event(ticket_id, kinds, event_ids, actor_kind=actor_kind, messages=messages)
    timings = []
    with QueryCounter(connection) as queries:
        fired = 0
        cpu = time.process_time()
        for n in range(args.events):
            ticket_id, kinds, event_ids, actor_kind, messages = calls[n % len(calls)]
            started = time.perf_counter()
            fired += on_ticket_event(
                ticket_id, kinds, event_ids, actor_kind=actor_kind, messages=messages
            )
            timings.append(time.perf_counter() - started)
        cpu = time.process_time() - cpu
    timings.sort()

    def pct(p: float) -> float:
        return timings[min(len(timings) - 1, int(round(p / 100 * (len(timings) - 1))))] * 1000

    print("| measure | value |\n|---|---|")
    print(
        f"| trigger evaluation per event ({args.events:,} created/message_added events, "
        f"{fired} fired) | mean {sum(timings) / len(timings) * 1000:.2f} ms, p50 {pct(50):.2f} ms, "
        f"p95 {pct(95):.2f} ms, CPU {cpu / args.events * 1000:.2f} ms, "
        f"{queries.count / args.events:.1f} queries per event |"
    )


if __name__ == "__main__":
    main()
