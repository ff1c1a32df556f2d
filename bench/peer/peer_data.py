"""Set up and fill the django-helpdesk benchmark instance. Runs in the peer's own venv:

    bench/peer/venv/bin/python bench/peer/peer_data.py setup
    bench/peer/venv/bin/python bench/peer/peer_data.py generate --tickets 10000 [--rare-term WORD]

`setup` migrates, creates the superuser (bench / bench-password) and a queue that accepts public
submissions. `generate` bulk-inserts tickets shaped like bench/generate.py's: the same vocabulary,
a 5-word title, a 30-word description plus 4 follow-ups of 30 words, the same status mix, agents
assigned round-robin, a requester e-mail from a pool of customers.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "project"))
sys.path.insert(0, str(HERE.parent))  # bench/: the shared vocabulary in generate.py

USERNAME = "bench"
PASSWORD = "bench-password"


def setup() -> None:
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from helpdesk.models import Queue

    call_command("migrate", verbosity=0, interactive=False)
    if not User.objects.filter(username=USERNAME).exists():
        User.objects.create_superuser(USERNAME, "bench@example.test", PASSWORD)
    Queue.objects.get_or_create(
        slug="support",
        defaults={"title": "Support", "allow_public_submission": True},
    )
    print(f"peer ready: user {USERNAME}, queue id {Queue.objects.get(slug='support').pk}")


def generate(tickets: int, customers: int, agents: int, rare_term: str, rare_every: int) -> None:
    from django.contrib.auth.hashers import make_password
    from django.contrib.auth.models import User
    from django.db import connection, transaction
    from django.utils import timezone
    from generate import WORDS
    from helpdesk.models import FollowUp, Queue, Ticket

    rng = random.Random(42)
    started = time.time()
    queue = Queue.objects.get(slug="support")
    unusable = make_password(None)
    User.objects.bulk_create(
        [
            User(username=f"agent{i}", email=f"agent{i}@bench.test", is_staff=True, password=unusable)
            for i in range(agents)
        ],
        ignore_conflicts=True,
    )
    staff = list(User.objects.filter(username__startswith="agent").order_by("id"))
    # open/reopened/resolved/closed; the same mix as caredesk's generator (new, open x2, pending,
    # on hold are open here; solved x2 resolved; closed).
    statuses = [(1, False), (1, False), (1, False), (1, False), (1, True), (3, False), (3, False), (4, False)]
    first_id = (Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0) + 1
    now = timezone.now()
    chunk = 5000
    for offset in range(0, tickets, chunk):
        batch, bodies = [], []
        for n in range(offset, min(offset + chunk, tickets)):
            status, on_hold = rng.choice(statuses)
            text = [" ".join(rng.choices(WORDS, k=30)) for _ in range(5)]
            if rare_term and (first_id + n) % rare_every == 7:
                text[0] = f"{text[0]} {rare_term}"
            bodies.append(text[1:])
            batch.append(
                Ticket(
                    title=" ".join(rng.choices(WORDS, k=5)).capitalize(),
                    queue=queue,
                    submitter_email=f"c{rng.randrange(customers)}@bench.test",
                    assigned_to=staff[(n * 7) % len(staff)] if n % 8 else None,
                    status=status,
                    on_hold=on_hold,
                    description=text[0],
                    priority=rng.choice([1, 2, 3, 3, 3, 4, 5]),
                )
            )
        with transaction.atomic():
            created = Ticket.objects.bulk_create(batch, batch_size=1000)
            FollowUp.objects.bulk_create(
                [
                    FollowUp(
                        ticket=ticket,
                        title="Comment",
                        comment=comment,
                        public=True,
                        user=ticket.assigned_to,
                        date=now,
                    )
                    for ticket, comments in zip(created, bodies, strict=True)
                    for comment in comments
                ],
                batch_size=2000,
            )
        print(f"{offset + len(batch)} tickets ({time.time() - started:.0f}s)", flush=True)
    # auto_now_add stamped every row with the insert time: spread creation over the past, 3 minutes
    # apart, as caredesk's generator does.
    with connection.cursor() as cursor:
        last = Ticket.objects.order_by("-id").values_list("id", flat=True).first() or 0
        cursor.execute(
            "UPDATE helpdesk_ticket SET created = datetime(%s, '-' || ((%s - id) * 3) || ' minutes'),"
            " modified = datetime(%s, '-' || ((%s - id) * 3) || ' minutes', '+2 hours') WHERE id >= %s",
            [now.strftime("%Y-%m-%d %H:%M:%S"), last, now.strftime("%Y-%m-%d %H:%M:%S"), last, first_id],
        )
    print(f"done in {time.time() - started:.0f}s")


def main() -> None:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("setup")
    gen = sub.add_parser("generate")
    gen.add_argument("--tickets", type=int, default=10_000)
    gen.add_argument("--customers", type=int, default=5_000)
    gen.add_argument("--agents", type=int, default=50)
    gen.add_argument("--rare-term", default="")
    gen.add_argument("--rare-every", type=int, default=1000)
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "peer_settings")
    import django

    django.setup()
    if args.command == "setup":
        setup()
    else:
        generate(args.tickets, args.customers, args.agents, args.rare_term, args.rare_every)


if __name__ == "__main__":
    main()
