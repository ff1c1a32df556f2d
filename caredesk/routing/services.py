"""Skills-based routing: who may take a ticket (team, skills, language, tier, presence, free
capacity on one model shared by every channel), who gets it (round robin, least loaded, longest
idle), push (auto-assign) and pull ("next ticket"), re-routing, escalation tiers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from caredesk.accounts.models import TIER_ORDER, Presence, Team, User
from caredesk.core.errors import ValidationFailed
from caredesk.routing.models import AgentRoutingState, RoutingMethod, SkillRule, TeamRouting
from caredesk.tickets.models import ACTIVE_STATUSES, EventKind, Status, Ticket
from caredesk.tickets.services import Actor, as_actor, assign, record_event, update_ticket

ROUTER = Actor.system("routing")
# One capacity model for every channel: an agent's capacity is in "async ticket" units.
CHANNEL_WEIGHT = {
    "phone": 10.0,
    "chat": 10.0 / 3,
    "whatsapp": 10.0 / 3,
    "messenger": 10.0 / 3,
    "telegram": 10.0 / 3,
}


@dataclass
class Requirements:
    skills: set[str] = field(default_factory=set)
    language: str = ""
    min_tier: str = ""


def requirements(ticket: Ticket, rules: list[SkillRule] | None = None) -> Requirements:
    rules = rules if rules is not None else list(SkillRule.objects.select_related("skill"))
    tags = {t.name for t in ticket.tags.all()}
    req = Requirements(language=ticket.language or "")
    for rule in rules:
        hit = (
            (rule.field == "category" and ticket.category == rule.value)
            or (rule.field == "channel" and ticket.channel == rule.value)
            or (rule.field == "language" and ticket.language == rule.value)
            or (rule.field == "tag" and rule.value in tags)
            or (rule.field == "vip" and ticket.requester.vip)
        )
        if hit:
            if rule.skill is not None:
                req.skills.add(rule.skill.name)
            if rule.min_tier and (
                not req.min_tier or TIER_ORDER.index(rule.min_tier) > TIER_ORDER.index(req.min_tier)
            ):
                req.min_tier = rule.min_tier
    return req


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
    result = []
    for agent in agents:
        if not agent.is_active or (need_online and agent.presence != Presence.ONLINE):
            continue
        if req.skills and not req.skills <= {s.name for s in agent.skills.all()}:
            continue
        if (
            req.language
            and req.language not in (agent.languages or [])
            and req.language.split("-")[0] not in (agent.languages or [])
        ):
            continue
        if req.min_tier and TIER_ORDER.index(agent.tier) < TIER_ORDER.index(req.min_tier):
            continue
        result.append(agent)
    return result


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
    epoch = timezone.now().replace(year=2000)
    if method == RoutingMethod.LEAST_LOADED:
        return min(
            free,
            key=lambda a: (used.get(a.pk, 0.0) / max(a.capacity, 1), last.get(a.pk) or epoch, a.pk),
        )
    # Round robin and longest idle both take the agent whose last assignment is oldest; round robin
    # ignores load, longest idle prefers agents with nothing open.
    if method == RoutingMethod.LONGEST_IDLE:
        return min(free, key=lambda a: (used.get(a.pk, 0.0) > 0, last.get(a.pk) or epoch, a.pk))
    return min(free, key=lambda a: (last.get(a.pk) or epoch, a.pk))


def _team_agents(team: Team) -> list[User]:
    return list(User.objects.filter(teams=team, is_active=True).prefetch_related("skills"))


@transaction.atomic
def route(ticket: Ticket, *, force: bool = False) -> User | None:
    """Push mode: assign an unassigned ticket of a team to the best qualified, available agent."""
    ticket = Ticket.objects.select_related("team", "requester").get(pk=ticket.pk)
    if ticket.assignee_id or ticket.team is None or ticket.status not in ACTIVE_STATUSES:
        return None
    config = TeamRouting.objects.filter(team=ticket.team).first()
    if not force and (config is None or not config.auto_assign):
        return None
    agents = _team_agents(ticket.team)
    req = requirements(ticket)
    candidates = qualified(ticket, agents, req)
    agent = choose(
        ticket,
        candidates,
        config.method if config else RoutingMethod.LEAST_LOADED,
        load(candidates),
    )
    if agent is None:
        return None
    assign(ROUTER, ticket, agent)
    AgentRoutingState.objects.update_or_create(
        agent=agent, defaults={"last_assigned_at": timezone.now()}
    )
    return agent


@transaction.atomic
def next_ticket(agent: User) -> Ticket | None:
    """Pull mode: the highest-priority, longest-waiting unassigned ticket the agent qualifies for."""
    rules = list(SkillRule.objects.select_related("skill"))
    queue = (
        Ticket.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(
            team__in=agent.team_ids(), assignee__isnull=True, status__in=[Status.NEW, Status.OPEN]
        )
        .select_related("requester")
        .prefetch_related("tags")
        .order_by("-priority", "created_at")
    )
    agent_with_skills = User.objects.prefetch_related("skills").get(pk=agent.pk)
    for ticket in queue[:200]:
        if qualified(ticket, [agent_with_skills], requirements(ticket, rules), need_online=False):
            assign(as_actor(agent), ticket, agent)
            AgentRoutingState.objects.update_or_create(
                agent=agent, defaults={"last_assigned_at": timezone.now()}
            )
            return ticket
    return None


def reroute_pass(limit: int = 10_000) -> dict[str, int]:
    """Unassign tickets held by offline agents, then offer every unassigned ticket again."""
    released = 0
    offline = User.objects.filter(Q(presence=Presence.OFFLINE) | Q(is_active=False)).values_list(
        "pk", flat=True
    )
    auto_teams = TeamRouting.objects.filter(auto_assign=True).values_list("team_id", flat=True)
    for ticket in Ticket.objects.filter(
        assignee__in=offline, status=Status.NEW, team__in=auto_teams
    )[:limit]:
        update_ticket(ROUTER, ticket, {"assignee": None})
        released += 1
    assigned = 0
    for ticket in Ticket.objects.filter(
        assignee__isnull=True, status__in=[Status.NEW, Status.OPEN], team__in=auto_teams
    ).order_by("-priority", "created_at")[:limit]:
        if route(ticket):
            assigned += 1
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
        agents = [
            a
            for a in _team_agents(team)
            if not to_tier or TIER_ORDER.index(a.tier) >= TIER_ORDER.index(to_tier)
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
