"""Routing at floor size: 1,000 agents (teams, skills, languages, tiers, presence, capacity), skill
rules on category, language, tags and VIP customers, and 10,000 queued tickets, each with a
running SLA clock.

    python bench/routing.py [--agents 1000 --tickets 10000 --sample 300]

Measures, on a fresh SQLite data dir (or DATABASE_URL), wall and CPU time and queries of:
  * push routing: `route()` one ticket at a time (decision and write), decisions per second;
  * the pass's decisions alone: read the floor and the queue, decide in memory, write nothing;
  * the full re-routing pass (`reroute_pass`) over every queued ticket, with the share of the
    receivers that run when its changes are announced on commit;
  * the next pass right after it, when nothing has changed.
Use --pass-limit to time the pass on part of the queue (the code before the in-memory pass needed
about 45 s per 1,000 tickets).
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

TEAMS = 10
SKILLS = [f"skill-{n}" for n in range(30)]
CATEGORIES = [f"category-{n}" for n in range(12)]
TAGS = [f"tag-{n}" for n in range(25)]
LANGUAGES = ["de", "fr", "es", "nl", "it", "pt"]


def build_floor(agents: int, tickets: int, seed: int = 7) -> None:
    """Agents, rules and a queue shaped like a large support floor, with bulk inserts."""
    from django.db import transaction
    from django.utils import timezone

    from caredesk.accounts.models import Presence, Skill, Team, Tier, User
    from caredesk.customers.models import Customer
    from caredesk.routing.models import RoutingMethod, SkillRule, TeamRouting
    from caredesk.sla.models import SlaPolicy, TicketSla
    from caredesk.tickets.models import Status, Tag, Ticket

    rng = random.Random(seed)
    with transaction.atomic():
        teams = Team.objects.bulk_create(
            [Team(name=f"Team {n}", slug=f"team-{n}") for n in range(TEAMS)]
        )
        methods = [
            RoutingMethod.LEAST_LOADED,
            RoutingMethod.ROUND_ROBIN,
            RoutingMethod.LONGEST_IDLE,
        ]
        TeamRouting.objects.bulk_create(
            [TeamRouting(team=t, method=methods[n % 3]) for n, t in enumerate(teams)]
        )
        skills = Skill.objects.bulk_create([Skill(name=s) for s in SKILLS])
        tags = Tag.objects.bulk_create([Tag(name=t) for t in TAGS])
        rules = [
            SkillRule(field="category", value=c, skill=skills[n % len(skills)])
            for n, c in enumerate(CATEGORIES)
        ]
        rules += [
            SkillRule(field="tag", value=t, skill=skills[(n * 7) % len(skills)])
            for n, t in enumerate(TAGS[:15])
        ]
        rules += [
            SkillRule(field="language", value=lang, min_tier=Tier.MID) for lang in ("de", "fr")
        ]
        rules += [SkillRule(field="vip", min_tier=Tier.SENIOR)]
        SkillRule.objects.bulk_create(rules)

        tiers = [Tier.JUNIOR] * 4 + [Tier.MID] * 3 + [Tier.SENIOR] * 2 + [Tier.LEAD]
        presences = [Presence.ONLINE] * 7 + [Presence.AWAY] + [Presence.OFFLINE] * 2
        users = []
        for n in range(agents):
            user = User(
                email=f"router{n}@bench.test",
                name=f"Router {n}",
                tier=rng.choice(tiers),
                presence=rng.choice(presences),
                capacity=rng.choice([8, 10, 12, 15, 20]),
                languages=["en", *rng.sample(LANGUAGES, rng.randint(0, 2))],
            )
            user.set_unusable_password()
            users.append(user)
        users = User.objects.bulk_create(users, batch_size=1000)
        User.teams.through.objects.bulk_create(
            [
                User.teams.through(user_id=u.pk, team_id=teams[n % TEAMS].pk)
                for n, u in enumerate(users)
            ]
            + [
                User.teams.through(user_id=u.pk, team_id=teams[(n + 3) % TEAMS].pk)
                for n, u in enumerate(users)
                if n % 5 == 0
            ]
        )
        User.skills.through.objects.bulk_create(
            [
                User.skills.through(user_id=u.pk, skill_id=s.pk)
                for u in users
                for s in rng.sample(skills, rng.randint(3, 10))
            ]
        )
        customers = Customer.objects.bulk_create(
            [
                Customer(name=f"Router customer {n}", email=f"rc{n}@bench.test", vip=n % 40 == 0)
                for n in range(2000)
            ],
            batch_size=1000,
        )
        channels = ["email"] * 6 + ["web"] * 2 + ["chat", "phone"]
        queued = [
            Ticket(
                subject=f"Queued {n}",
                status=rng.choice([Status.NEW, Status.NEW, Status.OPEN]),
                priority=rng.choice([0, 1, 1, 1, 2, 3]),
                channel=rng.choice(channels),
                requester=rng.choice(customers),
                team=rng.choice(teams),
                category=rng.choice(["", *CATEGORIES]),
                language=rng.choice(["en"] * 8 + LANGUAGES),
            )
            for n in range(tickets)
        ]
        # Work already on the agents' desks, so load and capacity matter.
        busy = [
            Ticket(
                subject=f"In progress {n}",
                status=Status.OPEN,
                channel=rng.choice(channels),
                requester=rng.choice(customers),
                team=teams[n % TEAMS],
                assignee=users[(n * 13) % len(users)],
            )
            for n in range(agents * 3)
        ]
        queued = Ticket.objects.bulk_create(queued, batch_size=2000)
        Ticket.objects.bulk_create(busy, batch_size=2000)
        # Every queued ticket has a running SLA clock, as on a floor with a policy for all.
        policy = SlaPolicy.objects.create(
            name="Everything", first_response_minutes=240, resolution_minutes=2880
        )
        due = timezone.now() + datetime.timedelta(hours=4)
        TicketSla.objects.bulk_create(
            [
                TicketSla(ticket=t, policy=policy, first_response_due=due, next_due=due)
                for t in queued
            ],
            batch_size=2000,
        )
        Ticket.tags.through.objects.bulk_create(
            [
                Ticket.tags.through(ticket_id=t.pk, tag_id=tag.pk)
                for t in queued
                for tag in rng.sample(tags, rng.choice([0, 0, 1, 1, 2]))
            ],
            batch_size=5000,
        )


class ReceiverClock:
    """Times what the receivers of ticket changes do (they run on commit, inside the pass)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.cpu = 0.0
        self.calls = 0
        self.queries = 0

    def __enter__(self) -> ReceiverClock:
        from common import QueryCounter
        from django.db import connection

        self._restore: list[tuple[object, str, object]] = []

        def timed(original):  # type: ignore[no-untyped-def]
            def timed_send(*args, **kwargs):  # type: ignore[no-untyped-def]
                started, cpu = time.perf_counter(), time.process_time()
                with QueryCounter(connection) as queries:
                    result = original(*args, **kwargs)
                self.seconds += time.perf_counter() - started
                self.cpu += time.process_time() - cpu
                # Announcements, counted per ticket.
                changes = kwargs.get(
                    "changes", args[0] if args and isinstance(args[0], list) else None
                )
                self.calls += len(changes) if changes is not None else 1
                self.queries += queries.count
                return result

            return timed_send

        try:
            # The change contract: every committed batch goes through one dispatch.
            from caredesk.tickets import changes as contract

            self._restore.append((contract, "dispatch", contract.dispatch))
            contract.dispatch = timed(contract.dispatch)  # type: ignore[assignment]
        except ImportError:
            # Older code: one ticket's change on ticket_changed, a bulk change on tickets_changed.
            from caredesk.core import events  # type: ignore[attr-defined]

            for name in ("ticket_changed", "tickets_changed"):
                signal = getattr(events, name, None)
                if signal is not None:
                    self._restore.append((signal, "send", signal.send))
                    signal.send = timed(signal.send)
        return self

    def __exit__(self, *exc: object) -> None:
        for owner, name, original in self._restore:
            setattr(owner, name, original)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--sample", type=int, default=300, help="tickets routed one at a time")
    parser.add_argument(
        "--pass-limit", type=int, default=0, help="cap the pass (0: every queued ticket)"
    )
    args = parser.parse_args()
    if "DATABASE_URL" not in os.environ:
        os.environ["CAREDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="caredesk-bench-routing-")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")
    os.environ.setdefault("CAREDESK_LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from common import QueryCounter, machine
    from django.core.management import call_command
    from django.db import connection

    from caredesk.routing import services as routing
    from caredesk.routing.models import TeamRouting
    from caredesk.tickets.models import Status, Ticket

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    build_floor(args.agents, args.tickets)
    print(
        f"# Routing — {args.agents:,} agents, {args.tickets:,} queued tickets — {connection.vendor}"
        f" — {machine()} — {datetime.date.today()} (data built in {time.perf_counter() - started:.1f} s)"
    )
    queued = Ticket.objects.filter(assignee__isnull=True, status__in=[Status.NEW, Status.OPEN])
    print("| measure | wall | CPU | queries | result |\n|---|---|---|---|---|")

    def measure(name: str, work) -> object:  # type: ignore[no-untyped-def]
        receivers = ReceiverClock()
        with QueryCounter(connection) as queries, receivers:
            started, cpu = time.perf_counter(), time.process_time()
            result = work()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        print(f"| {name} | {elapsed:.2f} s | {cpu:.2f} s | {queries.count:,} | {result} |")
        if receivers.calls:
            print(
                f"| … of which receivers of the {receivers.calls:,} announcements (SLA clocks, "
                f"triggers, search…) | {receivers.seconds:.2f} s | {receivers.cpu:.2f} s | "
                f"{receivers.queries:,} | |"
            )
        return result

    sample = list(queued.order_by("?")[: args.sample])

    def push() -> str:
        started = time.perf_counter()
        assigned = sum(1 for ticket in sample if routing.route(ticket) is not None)
        elapsed = time.perf_counter() - started
        return f"{assigned} of {len(sample)} assigned, {len(sample) / elapsed:,.0f} decisions/s"

    measure(f"push: route() one ticket at a time, {len(sample)} tickets", push)
    remaining = queued.count()
    if hasattr(routing, "plan_assignments"):
        teams = dict(TeamRouting.objects.filter(auto_assign=True).values_list("team_id", "method"))

        def decide() -> str:
            floor = routing.RoutingFloor.load(teams)
            queue = routing.queued_tickets(list(teams), remaining)
            started = time.perf_counter()
            plan = routing.plan_assignments(floor, queue)
            elapsed = time.perf_counter() - started
            return (
                f"{len(plan):,} of {len(queue):,} placed; in-memory decisions "
                f"{len(queue) / elapsed:,.0f}/s"
            )

        measure(f"pass decisions only (read and decide, no writes), {remaining:,} tickets", decide)
    limit = args.pass_limit or remaining
    for label in ("full re-routing pass", "the next pass (nothing changed)"):
        offered = min(queued.count(), limit)
        measure(
            f"{label}, {offered:,} queued tickets",
            lambda: ", ".join(f"{k} {v:,}" for k, v in routing.reroute_pass(limit=limit).items()),
        )


if __name__ == "__main__":
    main()
