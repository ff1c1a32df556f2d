"""Skills-based routing: who may take a ticket (team, skills, language, tier, presence, free
capacity on one model shared by every channel), who gets it (round robin, least loaded, longest
idle), push (auto-assign) and pull ("next ticket"), re-routing, escalation tiers."""

from __future__ import annotations

import gc
import heapq
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from caredesk.accounts.models import TIER_ORDER, Presence, Team, User
from caredesk.core.errors import ValidationFailed
from caredesk.core.prepared import PreparedInQuery, plain_rows
from caredesk.routing.models import AgentRoutingState, RoutingMethod, SkillRule, TeamRouting
from caredesk.tickets.access import Viewer, may_see, visible_tickets
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import ACTIVE_STATUSES, Channel, EventKind, Status, Ticket
from caredesk.tickets.services import (
    Actor,
    PlannedAssignment,
    as_actor,
    assign,
    assign_many,
    record_event,
    update_ticket,
)

ROUTER = Actor.system("routing")
# One capacity model for every channel: an agent's capacity is in "async ticket" units.
CHANNEL_WEIGHT = {
    "phone": 10.0,
    "chat": 10.0 / 3,
    "whatsapp": 10.0 / 3,
    "messenger": 10.0 / 3,
    "telegram": 10.0 / 3,
}


def waiting_for_routing() -> Q:
    """The tickets routing may assign, push or pull: unassigned, of a team, active, and not live
    chats (the chat channel offers those to agents itself, accept / decline; an assignee given
    here would leave the visitor's session waiting with no agent). Said once: `route`, the
    pass's queue, the look-up after new tickets and "next ticket" all filter by it."""
    return Q(assignee__isnull=True, team__isnull=False, status__in=ACTIVE_STATUSES) & ~Q(
        channel=Channel.CHAT
    )


def may_take(viewer: Viewer, team_id: int | None, restricted: bool) -> bool:
    """Whether routing may hand an unassigned ticket to this agent: only if they may see it as it
    stands, before the assignment (which would itself make it visible to them). The visibility
    rule of tickets.access decides; following the ticket is not counted (never a wider set)."""
    return may_see(viewer, team_id=team_id, assignee_id=None, restricted=restricted)


@dataclass
class Requirements:
    skills: set[str] = field(default_factory=set)
    language: str = ""
    min_tier: str = ""

    def key(self) -> tuple[frozenset[str], str, str]:
        return frozenset(self.skills), self.language, self.min_tier


class TicketFacts(NamedTuple):
    """What routing looks at on a ticket (a named tuple: the pass makes 10,000 of them)."""

    pk: int
    team_id: int | None
    channel: str
    category: str
    language: str
    tags: frozenset[str]
    vip: bool
    restricted: bool = False

    @classmethod
    def of(cls, ticket: Ticket) -> TicketFacts:
        return cls(
            pk=ticket.pk,
            team_id=ticket.team_id,
            channel=ticket.channel,
            category=ticket.category,
            language=ticket.language or "",
            tags=frozenset(t.name for t in ticket.tags.all()),
            vip=ticket.requester.vip,
            restricted=ticket.restricted,
        )

    @property
    def weight(self) -> float:
        return CHANNEL_WEIGHT.get(self.channel, 1.0)


class SkillRules:
    """The skill rules, indexed by the (field, value) they match, so a ticket's requirements take
    a few dictionary lookups however many rules there are."""

    def __init__(self, rules: list[SkillRule]) -> None:
        self.by_match: dict[tuple[str, str], list[tuple[str | None, str]]] = {}
        self.vip: list[tuple[str | None, str]] = []
        for rule in rules:
            outcome = (rule.skill.name if rule.skill is not None else None, rule.min_tier)
            if rule.field == "vip":
                self.vip.append(outcome)
            else:
                self.by_match.setdefault((rule.field, rule.value), []).append(outcome)

    @classmethod
    def load(cls) -> SkillRules:
        return cls(list(SkillRule.objects.select_related("skill")))

    def requirements(self, ticket: TicketFacts) -> Requirements:
        req = Requirements(language=ticket.language)
        keys = [
            ("category", ticket.category),
            ("channel", ticket.channel),
            ("language", ticket.language),
            *(("tag", tag) for tag in ticket.tags),
        ]
        outcomes = [o for key in keys for o in self.by_match.get(key, ())]
        if ticket.vip:
            outcomes += self.vip
        for skill, min_tier in outcomes:
            if skill is not None:
                req.skills.add(skill)
            if min_tier and (
                not req.min_tier or TIER_ORDER.index(min_tier) > TIER_ORDER.index(req.min_tier)
            ):
                req.min_tier = min_tier
        return req


def requirements(ticket: Ticket, rules: list[SkillRule] | None = None) -> Requirements:
    index = SkillRules(rules) if rules is not None else SkillRules.load()
    return index.requirements(TicketFacts.of(ticket))


def meets(
    req: Requirements, *, tier: str, skills: set[str] | frozenset[str], languages: list[str]
) -> bool:
    """Whether an agent with this tier, these skills and languages may take such a ticket."""
    if req.skills and not req.skills <= skills:
        return False
    if (
        req.language
        and req.language not in languages
        and req.language.split("-")[0] not in languages
    ):
        return False
    return not (req.min_tier and TIER_ORDER.index(tier) < TIER_ORDER.index(req.min_tier))


def load(agents: list[User]) -> dict[int, float]:
    """Capacity units in use per agent across their open tickets, weighted by channel."""
    rows = (
        Ticket.objects.filter(assignee__in=agents, status__in=[Status.NEW, Status.OPEN])
        .values("assignee_id", "channel")
        .annotate(n=Count("id"))
    )
    used: dict[int, float] = {a.pk: 0.0 for a in agents}
    for row in rows:
        used[row["assignee_id"]] += row["n"] * CHANNEL_WEIGHT.get(row["channel"], 1.0)
    return used


def qualified(
    ticket: Ticket, agents: list[User], req: Requirements, *, need_online: bool = True
) -> list[User]:
    return [
        agent
        for agent in agents
        if agent.is_active
        and (not need_online or agent.presence == Presence.ONLINE)
        and meets(
            req,
            tier=agent.tier,
            skills={s.name for s in agent.skills.all()},
            languages=agent.languages or [],
        )
    ]


# Agents never assigned anything rank as if their last assignment was long ago.
EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def rank(
    method: str, *, pk: int, used: float, capacity: int, last: datetime | None
) -> tuple[Any, ...]:
    """Sort key of an agent for a routing method: the lowest key gets the ticket."""
    if method == RoutingMethod.LEAST_LOADED:
        return (used / max(capacity, 1), last or EPOCH, pk)
    # Round robin and longest idle both take the agent whose last assignment is oldest; round robin
    # ignores load, longest idle prefers agents with nothing open.
    if method == RoutingMethod.LONGEST_IDLE:
        return (used > 0, last or EPOCH, pk)
    return (last or EPOCH, pk)


def choose(
    ticket: Ticket, candidates: list[User], method: str, used: dict[int, float]
) -> User | None:
    weight = CHANNEL_WEIGHT.get(ticket.channel, 1.0)
    free = [a for a in candidates if used.get(a.pk, 0.0) + weight <= a.capacity]
    if not free:
        return None
    last = {
        s.agent_id: s.last_assigned_at for s in AgentRoutingState.objects.filter(agent__in=free)
    }
    return min(
        free,
        key=lambda a: rank(
            method, pk=a.pk, used=used.get(a.pk, 0.0), capacity=a.capacity, last=last.get(a.pk)
        ),
    )


def _team_agents(team: Team) -> list[User]:
    return list(User.objects.filter(teams=team, is_active=True).prefetch_related("skills"))


# --- the routing floor: push decisions in memory ----------------------------------------------


@dataclass(eq=False)
class FloorAgent:
    """An online agent as push routing sees them; `version` changes whenever their rank does."""

    pk: int
    tier: str
    skills: frozenset[str]
    languages: list[str]
    capacity: int
    # Who the agent is to the visibility rule (role; teams as far as this floor knows them, which
    # covers the teams whose tickets it routes).
    viewer: Viewer
    open_by_channel: dict[str, int] = field(default_factory=dict)
    last: datetime | None = None
    version: int = 0
    used: float = 0.0
    tier_index: int = 0
    # Rank per routing method at the current version (an agent may be in teams routed differently).
    ranks: dict[str, tuple[Any, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.tier_index = TIER_ORDER.index(self.tier) if self.tier in TIER_ORDER else -1

    def count_load(self) -> None:
        # Summed as load() sums, so both agree to the last bit on when an agent is full.
        self.used = sum(n * CHANNEL_WEIGHT.get(ch, 1.0) for ch, n in self.open_by_channel.items())

    def rank(self, method: str) -> tuple[Any, ...]:
        found = self.ranks.get(method)
        if found is None:
            found = rank(method, pk=self.pk, used=self.used, capacity=self.capacity, last=self.last)
            self.ranks[method] = found
        return found


class RoutingFloor:
    """The online agents of some teams with their skills, load and last assignment, read in a
    fixed number of queries, plus the skill rules. `pick` decides like `choose` over the qualified
    agents, in memory; `take` books the ticket so the next decision sees it.

    Candidates are kept per (team, requirements) in heaps ordered by rank. Taking a ticket only
    ever raises an agent's rank, so a stale heap entry is simply re-ranked when it reaches the top.
    """

    def __init__(
        self,
        agents: dict[int, FloorAgent],
        members: dict[int, list[int]],
        methods: dict[int, str],
        rules: SkillRules,
    ) -> None:
        self.agents = agents
        self.members = members
        self.methods = methods
        self.rules = rules
        self._heaps: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        self._by_ticket_kind: dict[tuple[Any, ...], list[tuple[Any, ...]]] = {}
        self._requirements: dict[tuple[Any, ...], tuple[Requirements, tuple[Any, ...]]] = {}
        # Per team, who has each skill: narrows the agents `meets` has to look at.
        self._with_skill: dict[int, dict[str, set[int]]] = {}
        for team_id, pks in members.items():
            index: dict[str, set[int]] = {}
            for pk in pks:
                for skill in agents[pk].skills:
                    index.setdefault(skill, set()).add(pk)
            self._with_skill[team_id] = index

    @classmethod
    def load(cls, methods: dict[int, str]) -> RoutingFloor:
        """The floor of the teams in `methods` (team id -> routing method)."""
        team_ids = list(methods)
        online = User.objects.filter(
            teams__in=team_ids, is_active=True, presence=Presence.ONLINE
        ).values("pk")
        members: dict[int, list[int]] = {t: [] for t in team_ids}
        teams_of: dict[int, list[int]] = {}
        agents: dict[int, FloorAgent] = {}
        # The last assignment comes with the members (a left join): one query less per push.
        for team_id, pk, tier, languages, capacity, last, role in (
            User.teams.through.objects.filter(
                team_id__in=team_ids, user__is_active=True, user__presence=Presence.ONLINE
            )
            .order_by("team_id", "user_id")
            .values_list(
                "team_id",
                "user_id",
                "user__tier",
                "user__languages",
                "user__capacity",
                "user__routing_state__last_assigned_at",
                "user__role",
            )
        ):
            members[team_id].append(pk)
            teams_of.setdefault(pk, []).append(team_id)
            agents.setdefault(
                pk,
                FloorAgent(
                    pk=pk,
                    tier=tier,
                    skills=frozenset(),
                    languages=languages or [],
                    capacity=capacity,
                    viewer=Viewer.of_role(pk, role, ()),
                    last=last,
                ),
            )
        for pk, team_list in teams_of.items():
            agents[pk].viewer = replace(agents[pk].viewer, team_ids=tuple(team_list))
        skills: dict[int, set[str]] = {}
        for pk, name in User.skills.through.objects.filter(user_id__in=online).values_list(
            "user_id", "skill__name"
        ):
            skills.setdefault(pk, set()).add(name)
        for pk, names in skills.items():
            if pk in agents:
                agents[pk].skills = frozenset(names)
        for pk, channel, n in (
            Ticket.objects.filter(assignee_id__in=online, status__in=[Status.NEW, Status.OPEN])
            .values("assignee_id", "channel")
            .annotate(n=Count("id"))
            .values_list("assignee_id", "channel", "n")
        ):
            if pk in agents:
                agents[pk].open_by_channel[channel] = n
        for agent in agents.values():
            agent.count_load()
        return cls(agents, members, methods, SkillRules.load())

    def _heap(
        self, team_id: int, restricted: bool, req: Requirements, req_key: tuple[Any, ...]
    ) -> list[tuple[Any, ...]]:
        key = (team_id, restricted, req_key)
        heap = self._heaps.get(key)
        if heap is None:
            method = self.methods[team_id]
            pks: set[int] | list[int] = self.members.get(team_id, [])
            if req.skills:
                # Only agents with every skill: `meets`'s skill test is settled here.
                index = self._with_skill.get(team_id, {})
                pks = set.intersection(*(index.get(skill, set()) for skill in req.skills))
            # `meets`'s language and tier tests, inline: this runs for every candidate of every
            # kind of ticket in the queue.
            language = req.language
            base = language.split("-")[0]
            need = TIER_ORDER.index(req.min_tier) if req.min_tier else -1
            agents = self.agents
            # Agents already full for any ticket stay full for the rest of the pass: left out.
            heap = [
                (a.rank(method), a.version, a.pk)
                for a in [agents[pk] for pk in pks]
                if a.used + 1.0 <= a.capacity
                and a.tier_index >= need
                and (not language or language in a.languages or base in a.languages)
                and may_take(a.viewer, team_id, restricted)
            ]
            heapq.heapify(heap)
            self._heaps[key] = heap
        return heap

    def _candidates(self, ticket: TicketFacts) -> list[tuple[Any, ...]]:
        # Tickets alike in everything the rules look at share their candidates: the facts after
        # the id (team, channel, category, language, tags, VIP) are the key.
        key = ticket[1:]
        heap = self._by_ticket_kind.get(key)
        if heap is None:
            assert ticket.team_id is not None
            rule_key = key[1:]
            found = self._requirements.get(rule_key)
            if found is None:
                req = self.rules.requirements(ticket)
                found = self._requirements[rule_key] = (req, req.key())
            heap = self._heap(ticket.team_id, ticket.restricted, *found)
            self._by_ticket_kind[key] = heap
        return heap

    def pick(self, ticket: TicketFacts) -> FloorAgent | None:
        """The qualified online agent with room for the ticket who ranks first, or None."""
        if ticket.team_id is None or ticket.team_id not in self.methods:
            return None
        method = self.methods[ticket.team_id]
        heap = self._candidates(ticket)
        weight = CHANNEL_WEIGHT.get(ticket.channel, 1.0)
        no_room: list[tuple[Any, ...]] = []
        chosen = None
        while heap:
            _, version, pk = heap[0]
            agent = self.agents[pk]
            if version != agent.version:
                heapq.heapreplace(heap, (agent.rank(method), agent.version, pk))
            elif agent.used + weight <= agent.capacity:
                chosen = agent
                break
            elif agent.used + 1.0 > agent.capacity:
                heapq.heappop(heap)  # full for any ticket, and load only grows during a pass
            else:
                no_room.append(heapq.heappop(heap))  # too full for this one, not for lighter ones
        for entry in no_room:
            heapq.heappush(heap, entry)
        return chosen

    def take(self, agent: FloorAgent, ticket: TicketFacts, at: datetime) -> None:
        agent.open_by_channel[ticket.channel] = agent.open_by_channel.get(ticket.channel, 0) + 1
        # Never move the last assignment back (clocks of other processes may be ahead), so ranks
        # only rise, which the heaps rely on.
        agent.last = max(at, agent.last) if agent.last else at
        agent.count_load()
        agent.ranks.clear()
        agent.version += 1


def queued_tickets(team_ids: list[int], limit: int) -> list[TicketFacts]:
    """Unassigned new and open tickets of these teams that routing may assign (no live chats),
    most urgent and oldest first."""
    queue = Ticket.objects.filter(
        waiting_for_routing(), status__in=[Status.NEW, Status.OPEN], team__in=team_ids
    )
    tags: dict[int, set[str]] = {}
    for ticket_id, name in plain_rows(
        Ticket.tags.through.objects.filter(ticket__in=queue).values_list("ticket_id", "tag__name")
    ):
        tags.setdefault(ticket_id, set()).add(name)
    no_tags: frozenset[str] = frozenset()
    rows = plain_rows(
        queue.order_by("-priority", "created_at", "id").values_list(
            "pk", "team_id", "channel", "category", "language", "requester__vip", "restricted"
        )[:limit]
    )
    return [
        TicketFacts(
            pk,
            team_id,
            channel,
            category,
            language or "",
            frozenset(tags[pk]) if pk in tags else no_tags,
            bool(vip),
            bool(restricted),
        )
        for pk, team_id, channel, category, language, vip, restricted in rows
    ]


def plan_assignments(
    floor: RoutingFloor, queue: list[TicketFacts], now: datetime | None = None
) -> list[tuple[TicketFacts, FloorAgent, datetime]]:
    """Offer the tickets one after the other, as route() would, without writing anything."""
    now = now or timezone.now()
    plan = []
    for n, ticket in enumerate(queue):
        agent = floor.pick(ticket)
        if agent is not None:
            # Distinct, increasing times keep the order of the assignments for round robin.
            at = now + timedelta(microseconds=n)
            floor.take(agent, ticket, at)
            plan.append((ticket, agent, at))
    return plan


def _record_last_assigned(last: dict[int, datetime]) -> None:
    """Upsert each agent's last assignment with one prepared statement run per row (executemany):
    bulk_create(update_conflicts=True) prepares every value of a thousand rows field by field,
    which cost more than the write. Both SQLite and PostgreSQL speak ON CONFLICT ... DO UPDATE."""
    if not last:
        return
    quote = connection.ops.quote_name
    meta = AgentRoutingState._meta
    agent = quote(meta.get_field("agent").column or "agent_id")
    at = quote(meta.get_field("last_assigned_at").column or "last_assigned_at")
    # Table and column names come from the model; every value is a bound parameter.
    sql = (
        f"INSERT INTO {quote(meta.db_table)} ({agent}, {at}) VALUES (%s, %s) "  # noqa: S608
        f"ON CONFLICT ({agent}) DO UPDATE SET {at} = EXCLUDED.{at}"
    )
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One statement over the rows as one JSON parameter: executemany costs PostgreSQL a
            # statement per row, and arrays cost psycopg a quoting per element.
            cursor.execute(
                f"INSERT INTO {quote(meta.db_table)} ({agent}, {at}) "  # noqa: S608
                "SELECT (e->>0)::bigint, (e->>1)::timestamptz "
                "FROM jsonb_array_elements(%s::jsonb) AS v(e) "
                f"ON CONFLICT ({agent}) DO UPDATE SET {at} = EXCLUDED.{at}",
                [json.dumps([(pk, when.isoformat()) for pk, when in last.items()])],
            )
        else:
            cursor.executemany(sql, [(pk, adapt(when)) for pk, when in last.items()])


@transaction.atomic
def route(ticket: Ticket, *, force: bool = False) -> User | None:
    """Push mode: assign an unassigned ticket of a team to the best qualified, available agent."""
    # The team's routing configuration comes with the ticket (a join, not a second query).
    found = (
        Ticket.objects.select_related("requester", "team__routing")
        .filter(waiting_for_routing(), pk=ticket.pk)
        .first()
    )
    team = found.team if found is not None else None
    if found is None or team is None:
        return None
    try:
        config: TeamRouting | None = team.routing
    except TeamRouting.DoesNotExist:
        config = None
    if not force and (config is None or not config.auto_assign):
        return None
    floor = RoutingFloor.load({team.pk: config.method if config else RoutingMethod.LEAST_LOADED})
    ticket = found
    chosen = floor.pick(TicketFacts.of(ticket))
    if chosen is None:
        return None
    agent = User.objects.get(pk=chosen.pk)
    assign(ROUTER, ticket, agent)
    _record_last_assigned({agent.pk: timezone.now()})
    return agent


@transaction.atomic
def next_ticket(agent: User) -> Ticket | None:
    """Pull mode: the highest-priority, longest-waiting unassigned ticket the agent qualifies for."""
    if not agent.is_active:
        return None
    rules = SkillRules.load()
    viewer = Viewer.of(agent)
    # Only tickets the agent may see as they stand (no restricted ones unless a lead).
    queue = (
        visible_tickets(viewer, follows=False)
        .select_for_update(skip_locked=True, of=("self",))
        .filter(
            waiting_for_routing(),
            team__in=viewer.team_ids,
            status__in=[Status.NEW, Status.OPEN],
        )
        .select_related("requester")
        .prefetch_related("tags")
        .order_by("-priority", "created_at")
    )
    skills = set(agent.skills.values_list("name", flat=True))
    for ticket in queue[:200]:
        req = rules.requirements(TicketFacts.of(ticket))
        if meets(req, tier=agent.tier, skills=skills, languages=agent.languages or []):
            assign(as_actor(agent), ticket, agent)
            _record_last_assigned({agent.pk: timezone.now()})
            return ticket
    return None


# The tickets `route` would act on (`waiting_for_routing`), among those given: asked after every
# new ticket, so the ORM writes the query once per process. The others would cost `route` a write
# transaction.
_ROUTABLE = PreparedInQuery(
    lambda ticket_ids: (
        Ticket.objects.filter(waiting_for_routing(), pk__in=ticket_ids).order_by().values_list("pk")
    ),
    "ticket_ids",
    ticket_ids=-7_000_003,
)


def _created_without_team(change: TicketChange) -> bool:
    """The announcer said the new ticket has no team (and nothing else gave it one): nothing to
    route, no look-up needed."""
    created = [d for k, d in zip(change.kinds, change.data, strict=True) if k == EventKind.CREATED]
    return bool(created) and all(d.get("team") is None for d in created)


def push_changed(changes: list[TicketChange]) -> None:
    """Push mode after committed changes (one ticket's, or a bulk change such as a channel's
    batch of new tickets): the new tickets, and those moved to another team, that `route` would
    act on are found in one query, then routed in order."""
    ids = [
        c.ticket_id
        for c in changes
        if EventKind.TEAM_CHANGED in c.kinds
        or (EventKind.CREATED in c.kinds and not _created_without_team(c))
    ]
    if not ids:
        return
    routable = {pk for (pk,) in _ROUTABLE.rows(ticket_ids=ids)}
    for ticket_id in ids:
        if ticket_id in routable:
            route(Ticket(pk=ticket_id))  # `route` reads the ticket itself


# Assignments written per transaction. SQLite has one writer: a chunk's transaction holds up
# every other write (mail, chat) for its length, so chunks stay small. PostgreSQL locks only the
# chunk's ticket rows, and one transaction for a whole pass saves three quarters of its
# statements and commits (0.1-0.15 s of a 1 s pass).
PASS_CHUNK = 1000
PASS_CHUNK_POSTGRESQL = 10_000


@contextmanager
def _collector_paused() -> Iterator[None]:
    """The pass builds tens of thousands of small objects that live until it ends (the queue, the
    heaps, the plan, the events): each allocation burst set off the cyclic collector, which then
    walked the whole process heap, about a tenth of the pass's CPU. They hold no reference cycles
    (reference counting frees them), so the collector waits until the pass is over."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def reroute_pass(limit: int = 10_000) -> dict[str, int]:
    """Release new tickets held by agents who are offline or deactivated, then offer every
    unassigned ticket of the push-routed teams again (see `_reroute_pass`)."""
    with _collector_paused():
        return _reroute_pass(limit)


def _reroute_pass(limit: int) -> dict[str, int]:
    """Release new tickets held by agents who are offline or deactivated, then offer every
    unassigned ticket of the push-routed teams again.

    Agents, rules, load and last assignments are read once and the decisions made in memory (the
    same decisions as routing the tickets one by one); the assignments are written in bulk through
    tickets.services.assign_many, so each is still an event announced on commit. Each chunk is its
    own transaction: a ticket someone took in the meantime is left alone."""
    methods = dict(TeamRouting.objects.filter(auto_assign=True).values_list("team_id", "method"))
    if not methods:
        return {"released": 0, "assigned": 0}
    offline = User.objects.filter(Q(presence=Presence.OFFLINE) | Q(is_active=False)).values("pk")
    held = Ticket.objects.filter(
        assignee__in=offline, status=Status.NEW, team__in=list(methods)
    ).values_list("pk", "assignee_id")[:limit]
    released = len(assign_many(ROUTER, [PlannedAssignment(pk, a, None) for pk, a in held]))
    floor = RoutingFloor.load(methods)
    plan = plan_assignments(floor, queued_tickets(list(methods), limit))
    assigned = 0
    size = PASS_CHUNK_POSTGRESQL if connection.vendor == "postgresql" else PASS_CHUNK
    for start in range(0, len(plan), size):
        chunk = plan[start : start + size]
        with transaction.atomic():
            done = set(
                assign_many(
                    ROUTER, [PlannedAssignment(t.pk, None, agent.pk) for t, agent, _ in chunk]
                )
            )
            last: dict[int, datetime] = {}
            for ticket, agent, at in chunk:
                if ticket.pk in done:
                    last[agent.pk] = at
            _record_last_assigned(last)
        assigned += len(done)
    return {"released": released, "assigned": assigned}


@transaction.atomic
def deactivate_agent(actor: User, agent: User) -> dict[str, int]:
    """Deactivate an agent: their open tickets go back to routing (or the team queue); nothing orphaned."""
    if not actor.is_admin:
        from caredesk.core.errors import PermissionDenied

        raise PermissionDenied("Only admins deactivate agents.")
    User.objects.filter(pk=agent.pk).update(is_active=False, presence=Presence.OFFLINE)
    moved = rerouted = 0
    for ticket in Ticket.objects.filter(assignee=agent, status__in=ACTIVE_STATUSES):
        update_ticket(as_actor(actor), ticket, {"assignee": None})
        moved += 1
        if route(ticket, force=True):
            rerouted += 1
    return {"unassigned": moved, "rerouted": rerouted}


# --- escalation -----------------------------------------------------------------------------


@transaction.atomic
def escalate(
    actor: User | Actor,
    ticket: Ticket,
    *,
    reason: str,
    to_team: Team | None = None,
    to_tier: str = "",
) -> Ticket:
    """Tiered (junior → mid → senior → lead) or functional (another team) escalation, as an event."""
    if not reason.strip():
        raise ValidationFailed("Say why the ticket is escalated.", code="reason_required")
    who = as_actor(actor)
    ticket = Ticket.objects.select_related("assignee", "team", "requester").get(pk=ticket.pk)
    current_tier = ticket.assignee.tier if ticket.assignee else "junior"
    if not to_team and not to_tier:
        index = TIER_ORDER.index(current_tier)
        if index + 1 >= len(TIER_ORDER):
            raise ValidationFailed("The ticket is already with a team lead.", code="top_tier")
        to_tier = TIER_ORDER[index + 1]
    if to_tier and to_tier not in TIER_ORDER:
        raise ValidationFailed("Unknown tier.", code="bad_tier")
    team = to_team or ticket.team
    target: User | None = None
    if team is not None:
        # Members of the team (so it is among their teams) who may see the ticket there.
        agents = [
            a
            for a in _team_agents(team)
            if (not to_tier or TIER_ORDER.index(a.tier) >= TIER_ORDER.index(to_tier))
            and may_take(Viewer.of_role(a.pk, a.role, (team.pk,)), team.pk, ticket.restricted)
        ]
        req = requirements(ticket)
        req.min_tier = to_tier or req.min_tier
        candidates = qualified(ticket, agents, req, need_online=False) or agents
        target = choose(ticket, candidates, RoutingMethod.LEAST_LOADED, load(candidates)) or (
            candidates[0] if candidates else None
        )
    record_event(
        ticket,
        EventKind.ESCALATED,
        who,
        reason=reason[:500],
        from_team=ticket.team_id,
        to_team=team.pk if team else None,
        from_agent=ticket.assignee_id,
        to_agent=target.pk if target else None,
        from_tier=current_tier,
        to_tier=to_tier,
    )
    changes: dict[str, Any] = {"assignee": target}
    if team is not None and team.pk != ticket.team_id:
        changes["team"] = team
    update_ticket(who, ticket, changes)
    return Ticket.objects.get(pk=ticket.pk)
