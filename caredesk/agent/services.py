"""Workspace logic: inbox views and counts, filters, collision presence, saved views, bulk edits."""

from __future__ import annotations

import functools
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Aggregate, CharField, OuterRef, Q, QuerySet, Subquery, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.timesince import TIME_STRINGS, timesince

from caredesk.accounts.models import Team, User
from caredesk.agent.models import SavedView
from caredesk.core.errors import DomainError, ValidationFailed
from caredesk.core.pagination import Page, after_cursor, encode_cursor, paginate
from caredesk.core.prepared import PreparedQuery
from caredesk.core.snapshot import ProcessSnapshot
from caredesk.customers.models import Identity, IdentityKind
from caredesk.sla.badges import badge as sla_badge
from caredesk.tickets import services as tickets
from caredesk.tickets.models import (
    ACTIVE_STATUSES,
    PRIORITY_BY_NAME,
    Channel,
    CustomField,
    EventKind,
    LinkKind,
    Priority,
    Status,
    Ticket,
    TicketEvent,
    TicketLink,
)

COUNT_CAP = 1000
PRESENCE_SECONDS = 20

# Read by every ticket page and inbox, changed by an admin a few times a year; names and form
# fields only (what an agent may see never comes from these).
TEAM_CHOICES: ProcessSnapshot[list[tuple[int, str]]] = ProcessSnapshot(
    lambda: list(Team.objects.order_by("name").values_list("pk", "name")), models=[Team]
)
ACTIVE_CUSTOM_FIELDS: ProcessSnapshot[list[CustomField]] = ProcessSnapshot(
    lambda: list(CustomField.objects.filter(active=True)), models=[CustomField]
)


@dataclass(frozen=True)
class InboxView:
    key: str
    label: str


VIEWS = [
    InboxView("mine", "My open tickets"),
    InboxView("unassigned", "Unassigned in my teams"),
    InboxView("team", "All open in my teams"),
    InboxView("overdue", "SLA overdue"),
    InboxView("due_soon", "SLA due within 2 hours"),
    InboxView("pending", "Pending"),
    InboxView("on_hold", "On hold"),
    InboxView("solved", "Recently solved"),
    InboxView("all", "All tickets"),
]
VIEW_KEYS = {v.key for v in VIEWS}
SORTS = {
    "-updated_at": "Last updated",
    "updated_at": "Oldest update",
    "-created_at": "Newest",
    "created_at": "Oldest",
    "-priority": "Highest priority",
}
FILTER_KEYS = ("status", "priority", "channel", "tag", "team", "assignee", "customer")


def _team_scope(agent: User) -> Q:
    return Q(team_id__in=agent.team_ids()) | Q(team__isnull=True)


SCOPED_VIEWS = ("mine", "unassigned", "team")


def _view_scope(agent: User, view: str) -> QuerySet[Ticket]:
    """The busiest views without their status condition. They are scoped to the agent's teams (or
    to the agent), so they take the visibility rule without its followers subquery
    (`follows=False`, a narrower set): less SQL to build and to run on every load."""
    visible = tickets.visible_tickets(agent, follows=False)
    if view == "mine":
        return visible.filter(assignee=agent)
    if view == "unassigned":
        return visible.filter(_team_scope(agent), assignee__isnull=True)
    return visible.filter(_team_scope(agent))


def view_queryset(agent: User, view: str) -> QuerySet[Ticket]:
    if view not in VIEW_KEYS:
        raise ValidationFailed(f"Unknown inbox view {view!r}.")
    if view in SCOPED_VIEWS:
        return _view_scope(agent, view).filter(status__in=ACTIVE_STATUSES)
    qs = tickets.visible_tickets(agent)
    if view == "overdue":
        from caredesk.sla.services import overdue

        return overdue(qs.filter(_team_scope(agent) | Q(assignee=agent)))
    if view == "due_soon":
        from caredesk.sla.services import due_soon

        return due_soon(qs.filter(_team_scope(agent) | Q(assignee=agent)))
    if view == "pending":
        return qs.filter(status=Status.PENDING)
    if view == "on_hold":
        return qs.filter(status=Status.ON_HOLD)
    if view == "solved":
        return qs.filter(status=Status.SOLVED, solved_at__gte=timezone.now() - timedelta(days=7))
    return qs


def apply_filters(qs: QuerySet[Ticket], filters: dict[str, str], agent: User) -> QuerySet[Ticket]:
    if filters.get("status"):
        qs = qs.filter(status=filters["status"])
    if filters.get("priority") in PRIORITY_BY_NAME:
        qs = qs.filter(priority=PRIORITY_BY_NAME[filters["priority"]])
    if filters.get("channel"):
        qs = qs.filter(channel=filters["channel"])
    if filters.get("tag"):
        qs = qs.filter(tags__name=filters["tag"].strip().lower())
    if (filters.get("team") or "").isdigit():
        qs = qs.filter(team_id=int(filters["team"]))
    assignee = filters.get("assignee") or ""
    if assignee == "me":
        qs = qs.filter(assignee=agent)
    elif assignee == "none":
        qs = qs.filter(assignee__isnull=True)
    elif assignee.isdigit():
        qs = qs.filter(assignee_id=int(assignee))
    if (filters.get("customer") or "").isdigit():
        qs = qs.filter(requester_id=int(filters["customer"]))
    return qs


VIEW_STATUSES: dict[str, list[str]] = {
    "mine": list(ACTIVE_STATUSES),
    "unassigned": list(ACTIVE_STATUSES),
    "team": list(ACTIVE_STATUSES),
    "overdue": [],
    "due_soon": [],
    "pending": [Status.PENDING],
    "on_hold": [Status.ON_HOLD],
    "solved": [Status.SOLVED],
    "all": list(Status.values),
}


def inbox(
    agent: User,
    view: str,
    filters: dict[str, str],
    *,
    sort: str = "-updated_at",
    cursor: str | None = None,
    limit: int = 50,
) -> Page:
    """One page of a view. Sorted by update time, each status is read along the (status, updated_at)
    index and the sorted runs are merged, so the cost does not grow with the table."""
    if sort not in SORTS:
        sort = "-updated_at"
    statuses = [filters["status"]] if filters.get("status") else VIEW_STATUSES.get(view, [])
    if view in SCOPED_VIEWS:
        # The status condition goes in per status: a redundant `status IN (...)` beside
        # `status = ?` steers SQLite's planner onto the status index instead of the assignee's.
        statuses = [s for s in statuses if s in VIEW_STATUSES[view]]
        if not statuses:
            return Page(items=[], next=None)
        unfiltered = {k: v for k, v in filters.items() if k != "status"}
        base = apply_filters(_view_scope(agent, view), unfiltered, agent)
        one_query = (
            base.filter(status=statuses[0])
            if len(statuses) == 1
            else base.filter(status__in=statuses)
        )
    else:
        base = one_query = apply_filters(view_queryset(agent, view), filters, agent)
    if sort not in ("-updated_at", "updated_at") or len(statuses) < 2:
        return paginate(_row_values(one_query), order=sort, cursor=cursor, limit=limit)
    if connection.features.supports_slicing_ordering_in_compound:
        # PostgreSQL: the page of each status in one UNION ALL, inside the query for the rows:
        # one round trip instead of one per status plus one for the rows.
        per_status = [
            after_cursor(base.filter(status=status), order=sort, cursor=cursor).values("id")[
                : limit + 1
            ]
            for status in statuses
        ]
        ids = per_status[0].union(*per_status[1:], all=True)
        return paginate(
            _row_values(Ticket.objects.filter(pk__in=ids)), order=sort, cursor=None, limit=limit
        )
    # SQLite (no LIMIT inside a compound SELECT): keys first, cheap and index-only per status,
    # then the full rows of the winners only.
    pages = [
        paginate(
            base.filter(status=status).values_list("updated_at", "id", named=True),
            order=sort,
            cursor=cursor,
            limit=limit,
        )
        for status in statuses
    ]
    keys = sorted(
        ((t.updated_at, t.id) for p in pages for t in p.items), reverse=sort.startswith("-")
    )
    more = len(keys) > limit or any(p.next for p in pages)
    keys = keys[:limit]
    # The keys came from the view's filtered queryset: the rows need no filter but their ids.
    by_id = {t.id: t for t in _row_values(Ticket.objects.filter(pk__in=[k[1] for k in keys]))}
    rows = [by_id[k[1]] for k in keys if k[1] in by_id]
    next_cursor = encode_cursor([keys[-1][0], keys[-1][1]]) if more and keys else None
    return Page(items=rows, next=next_cursor)


# Only what a row shows, as plain values (no model instances): the page renders 50 rows on every
# load and live refresh.
ROW_VALUES = (
    "id",
    "subject",
    "status",
    "priority",
    "channel",
    "created_at",
    "updated_at",
    "requester_id",
    "requester__name",
    "requester__email",
    "requester__phone",
    "assignee_id",
    "assignee__name",
    "assignee__email",
    # The SLA badge: the clock's next target (one join on the ticket's unique key, no query
    # per row).
    "sla__next_due",
    "sla__paused_since",
    "sla__policy__warn_before_minutes",
)


PREVIEW_CHARS = 160


def _with_latest_text(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """The start of the ticket's latest message, for the row's preview (a subquery in the same
    statement, along the message table's ticket index)."""
    from django.db.models.functions import Substr

    from caredesk.tickets.models import Message

    latest = (
        Message.objects.filter(ticket_id=OuterRef("pk"))
        .order_by("-id")
        .annotate(start=Substr("body_text", 1, PREVIEW_CHARS * 2))
        .values("start")[:1]
    )
    return qs.annotate(latest_text=Subquery(latest))


def _row_values(qs: QuerySet[Ticket]) -> QuerySet[Any]:
    return _with_latest_text(_with_tag_names(qs)).values_list(
        *ROW_VALUES, "tag_names", "latest_text", named=True
    )


TAG_SEPARATOR = "\x1f"  # the unit separator: no tag name contains it


class _JoinedNames(Aggregate):
    """Tag names joined into one string (SQLite group_concat, PostgreSQL string_agg), so the
    rows and their tags come in one query."""

    function = "GROUP_CONCAT"
    template = "%(function)s(%(expressions)s, char(31))"
    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(
            compiler,
            connection,
            function="STRING_AGG",
            template="%(function)s(%(expressions)s, chr(31))",
            **extra,
        )


def _with_tag_names(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    names = (
        Ticket.tags.through.objects.filter(ticket_id=OuterRef("pk"))
        .values("ticket_id")
        .annotate(names=_JoinedNames("tag__name"))
        .values("names")  # type: ignore[misc]
    )
    return qs.annotate(tag_names=Subquery(names))


def inbox_rows(items: list[Any]) -> list[dict[str, Any]]:
    """The inbox rows (from inbox()) as plain values for the template: worked out here once per
    row instead of through template tags and filters (URL reversing, display lookups, timesince)
    on every render, and dicts because the template engine resolves a dict key first."""
    now = timezone.now()
    time_strings = {unit: _PhrasePerCount(phrase) for unit, phrase in TIME_STRINGS.items()}
    statuses, channels = dict(Status.choices), dict(Channel.choices)
    priorities = dict(Priority.choices)
    rows = []
    for t in items:
        rows.append(
            {
                "pk": str(t.id),
                "url": ticket_url(t.id),
                "subject": t.subject,
                "tags": sorted(t.tag_names.split(TAG_SEPARATOR)) if t.tag_names else [],
                # As Customer.__str__ and User.__str__ name them.
                "requester": t.requester__name
                or t.requester__email
                or t.requester__phone
                or f"Customer {t.requester_id}",
                "status": t.status,
                "status_label": statuses.get(t.status, t.status),
                "priority": priorities.get(t.priority, str(t.priority)),
                "channel": channels.get(t.channel, t.channel),
                "assignee": (t.assignee__name or t.assignee__email) if t.assignee_id else "—",
                "updated_iso": t.updated_at.isoformat(),
                # time_strings only needs `%` (the stubs say str).
                "updated_ago": timesince(t.updated_at, now, time_strings=time_strings),  # type: ignore[arg-type]
                "preview": _preview(t.latest_text),
                "sla": sla_badge(
                    t.sla__next_due, t.sla__paused_since, t.sla__policy__warn_before_minutes, now
                )
                if t.status in ACTIVE_STATUSES
                else None,
            }
        )
    return rows


def _preview(text: str | None) -> str:
    """The latest message's start on one line, cut at a word."""
    flat = " ".join((text or "").split())
    if len(flat) <= PREVIEW_CHARS:
        return flat
    return flat[:PREVIEW_CHARS].rsplit(" ", 1)[0] + "…"


def inbox_total(agent: User, view: str, filters: dict[str, str], counts: dict[str, str]) -> str:
    """How many tickets the open view holds with its filters: the cached view count when no
    filter is set, else one count capped like the view counts ("1000+")."""
    if not filters:
        return counts.get(view, "0")
    qs = apply_filters(view_queryset(agent, view), filters, agent)
    n = qs.order_by().values("id")[: COUNT_CAP + 1].count()
    return f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)


class _PhrasePerCount:
    """One of timesince's unit phrases ("%(num)d days"), translated once per count for one
    page of rows: translating a lazy plural on every use was most of timesince's time, and
    most of the inbox rows' (50 rows, two phrases each)."""

    def __init__(self, phrase: Any) -> None:
        self.phrase = phrase
        self.by_count: dict[int, str] = {}

    def __mod__(self, values: dict[str, int]) -> str:
        count = values["num"]
        text = self.by_count.get(count)
        if text is None:
            text = self.by_count[count] = str(self.phrase % values)
        return text


def ticket_url(number: int) -> str:
    """The ticket page's URL, reversed once rather than once per row."""
    prefix, suffix = _ticket_url_parts()
    return f"{prefix}{number}{suffix}"


@functools.cache
def _ticket_url_parts() -> tuple[str, str]:
    marker = "987654321"
    prefix, _, suffix = reverse("agent:ticket", kwargs={"number": int(marker)}).partition(marker)
    return prefix, suffix


def view_nav(agent: User, current: str) -> list[dict[str, Any]]:
    """The views with their counts and which one is open, ready for the side navigation."""
    counts = view_counts(agent)
    return [
        {"key": v.key, "label": v.label, "count": counts[v.key], "current": v.key == current}
        for v in VIEWS
    ]


# What keys the cached view counts, asked by every inbox load: the newest ticket event (every
# change records one, and its id only grows, whatever the clocks say) and the newest updated_at
# (for changes written without an event). Two index look-ups in one statement.
_NEWEST_CHANGE = PreparedQuery(
    lambda: TicketEvent.objects.order_by("-id").values_list(
        "id",
        Subquery(Ticket.objects.order_by("-updated_at").values("updated_at")[:1]),
    )[:1]
)


def view_counts(agent: User) -> dict[str, str]:
    """Counts per view, capped at 1,000 and cached until any ticket changes."""
    row = _NEWEST_CHANGE.first()
    # Only compared, so the database's own types will do (digits only: a clean cache key).
    stamp = "-".join("".join(ch for ch in str(v) if ch.isdigit()) for v in row) if row else "0"
    key = f"caredesk:inbox-counts:{agent.pk}:{agent.role}:{'-'.join(map(str, agent.team_ids()))}:{stamp}"
    cached = cache.get(key)
    if cached is not None:
        return cached
    counts = {}
    for view in VIEWS:
        n = view_queryset(agent, view.key).order_by().values("id")[: COUNT_CAP + 1].count()
        counts[view.key] = f"{COUNT_CAP}+" if n > COUNT_CAP else str(n)
    cache.set(key, counts, 300)
    return counts


# The inbox's optional columns, in display order (the checkbox, number and subject always show).
INBOX_COLUMNS = {
    "requester": "Requester",
    "status": "Status",
    "sla": "SLA",
    "priority": "Priority",
    "channel": "Channel",
    "assignee": "Assignee",
    "updated": "Updated",
}


def inbox_columns(agent: User) -> list[str]:
    """The columns the agent chose (all of them until they choose)."""
    chosen = [c for c in (agent.inbox_columns or []) if c in INBOX_COLUMNS]
    return chosen or list(INBOX_COLUMNS)


def set_inbox_columns(agent: User, columns: list[str]) -> list[str]:
    unknown = sorted(set(columns) - set(INBOX_COLUMNS))
    if unknown:
        raise ValidationFailed(f"Unknown inbox column: {', '.join(unknown)[:100]}.")
    if not columns:
        raise ValidationFailed("Keep at least one column besides the subject.")
    ordered = [c for c in INBOX_COLUMNS if c in columns]
    User.objects.filter(pk=agent.pk).update(inbox_columns=ordered)
    agent.inbox_columns = ordered
    return ordered


def clean_filters(raw: dict[str, Any]) -> dict[str, str]:
    return {k: str(raw.get(k, "")).strip()[:64] for k in FILTER_KEYS if str(raw.get(k, "")).strip()}


def save_view(agent: User, name: str, view: str, filters: dict[str, str]) -> SavedView:
    name = name.strip()[:80]
    if not name:
        raise ValidationFailed("Give the view a name.")
    if view not in VIEW_KEYS:
        raise ValidationFailed("Unknown view.")
    saved, _ = SavedView.objects.update_or_create(
        owner=agent, name=name, defaults={"view": view, "filters": filters}
    )
    return saved


# --- ticket page ---------------------------------------------------------------------------


# Events whose data names people (agent ids) or teams (team ids), by the keys that hold them.
_AGENT_KEYS = ("from_agent", "to_agent", "agent")
_TEAM_KEYS = ("from_team", "to_team")


def _names(ids: set[int], model: type[User] | type[Team]) -> dict[int, str]:
    return dict(model.objects.filter(pk__in=ids).values_list("pk", "name")) if ids else {}


def describe_events(events: list[Any]) -> None:
    """Set `detail` on each ticket event: what changed in words, for the timeline (names, not
    ids; the tags added and removed; an escalation's reason). Two queries at most."""
    agent_ids: set[int] = set()
    team_ids: set[int] = set()
    for e in events:
        data = e.data or {}
        if e.kind == EventKind.ASSIGNED:
            agent_ids.update(v for v in (data.get("old"), data.get("new")) if isinstance(v, int))
        elif e.kind == EventKind.TEAM_CHANGED:
            team_ids.update(v for v in (data.get("old"), data.get("new")) if isinstance(v, int))
        agent_ids.update(data[k] for k in _AGENT_KEYS if isinstance(data.get(k), int))
        team_ids.update(data[k] for k in _TEAM_KEYS if isinstance(data.get(k), int))
    agents = _names(agent_ids, User)
    teams = _names(team_ids, Team)
    statuses: dict[Any, str] = dict(Status.choices)

    def agent(pk: Any) -> str:
        return "nobody" if pk is None else agents.get(pk, "a removed agent")

    def team(pk: Any) -> str:
        return "no team" if pk is None else teams.get(pk, "a removed team")

    for e in events:
        data = e.data or {}
        old, new = data.get("old"), data.get("new")
        detail = ""
        if e.kind == EventKind.ASSIGNED:
            detail = f"{agent(old)} → {agent(new)}"
        elif e.kind == EventKind.TEAM_CHANGED:
            detail = f"{team(old)} → {team(new)}"
        elif e.kind == EventKind.STATUS_CHANGED:
            detail = f"{statuses.get(old, str(old or '—'))} → {statuses.get(new, str(new or '—'))}"
        elif e.kind == EventKind.TAGS_CHANGED:
            parts = []
            if data.get("added"):
                parts.append("added " + ", ".join(map(str, data["added"])))
            if data.get("removed"):
                parts.append("removed " + ", ".join(map(str, data["removed"])))
            detail = "; ".join(parts)
        elif e.kind == EventKind.ESCALATED:
            moves = []
            if data.get("to_team") is not None and data.get("to_team") != data.get("from_team"):
                moves.append(f"to {team(data['to_team'])}")
            if data.get("to_agent") is not None:
                moves.append(f"to {agent(data['to_agent'])}")
            if data.get("to_tier"):
                moves.append(f"(tier {data['to_tier']})")
            reason = str(data.get("reason") or "").strip()
            detail = " ".join(moves) + (f": {reason}" if reason else "")
        elif e.kind in (EventKind.FOLLOWER_ADDED, EventKind.FOLLOWER_REMOVED):
            detail = agent(data.get("agent"))
        elif e.kind == EventKind.REOPENED:
            detail = str(data.get("reason") or "")
        elif e.kind == EventKind.SLA:
            target = str(data.get("target") or "").removesuffix("_due").replace("_", " ")
            detail = f"{target} {data.get('state') or ''}"
        elif e.kind == EventKind.SURVEY_ANSWERED:
            from caredesk.surveys.services import describe_answer

            detail = describe_answer(data)
        elif old is not None or new is not None:
            field = f"{data['field']}: " if data.get("field") else ""
            detail = f"{field}{old if old not in (None, '') else '—'} → {new if new not in (None, '') else '—'}"
        e.detail = detail.strip()


@dataclass
class TicketFacts:
    """The ticket page's small lists, as plain values (read in one statement)."""

    tags: list[str]
    followers: list[tuple[int, str]]  # (agent id, name), by name
    cc: list[str]  # display names, by name
    links_out: list[tuple[str, int]]  # (kind label, target ticket)
    links_in: list[tuple[str, int]]  # (kind label, source ticket)
    identities: list[tuple[str, str]]  # the requester's (kind label, value)


def _facts_query(ticket_id: int, requester_id: int) -> QuerySet[Any]:
    """Tags, followers, CC, links both ways and the requester's identities as one UNION ALL of
    rows (part, id, text, text, text, number): six round trips to the database become one."""
    empty, zero = Value(""), Value(0)
    through = Ticket.tags.through.objects.filter(ticket_id=ticket_id).order_by()
    parts = [
        through.values_list(Value("tag"), "tag_id", "tag__name", empty, empty, zero),
        Ticket.followers.through.objects.filter(ticket_id=ticket_id)
        .order_by()
        .values_list(Value("follower"), "user_id", "user__name", empty, empty, zero),
        Ticket.cc.through.objects.filter(ticket_id=ticket_id)
        .order_by()
        .values_list(
            Value("cc"), "customer_id", "customer__name", "customer__email", "customer__phone", zero
        ),
        TicketLink.objects.filter(source_id=ticket_id)
        .order_by()
        .values_list(Value("link_out"), "id", "kind", empty, empty, "target_id"),
        TicketLink.objects.filter(target_id=ticket_id)
        .order_by()
        .values_list(Value("link_in"), "id", "kind", empty, empty, "source_id"),
        Identity.objects.filter(customer_id=requester_id)
        .order_by()
        .values_list(Value("identity"), "id", "kind", "value", empty, zero),
    ]
    return parts[0].union(*parts[1:], all=True)


_FACTS = PreparedQuery(_facts_query, ticket_id=-7_000_101, requester_id=-7_000_102)
_TEAM_MEMBERS = PreparedQuery(
    lambda team_id: (
        User.objects.filter(is_active=True, teams=team_id)
        .order_by("name")
        .values_list("pk", "name")
    ),
    team_id=-7_000_103,
)


def assignee_choices(team_id: int | None) -> list[tuple[int, str]]:
    """Who a ticket of this team may be assigned to (any active agent when it has no team)."""
    if team_id is None:
        return list(User.objects.filter(is_active=True).order_by("name").values_list("pk", "name"))
    return [(pk, name) for pk, name in _TEAM_MEMBERS.rows(team_id=team_id)]


def ticket_facts(ticket: Ticket) -> TicketFacts:
    by_part: dict[str, list[tuple[Any, ...]]] = {}
    for part, *rest in _FACTS.rows(ticket_id=ticket.pk, requester_id=ticket.requester_id):
        by_part.setdefault(part, []).append(tuple(rest))
    link_label = dict(LinkKind.choices)
    identity_label = dict(IdentityKind.choices)
    cc = sorted(by_part.get("cc", []), key=lambda r: (r[1], r[0]))  # Customer's order: name, id
    return TicketFacts(
        tags=sorted(name for _, name, *_ in by_part.get("tag", [])),
        followers=sorted(
            ((pk, name) for pk, name, *_ in by_part.get("follower", [])), key=lambda f: (f[1], f[0])
        ),
        cc=[name or email or phone or f"Customer {pk}" for pk, name, email, phone, _ in cc],
        links_out=[
            (link_label.get(kind, kind), other)
            for _, kind, _, _, other in sorted(by_part.get("link_out", []))
        ],
        links_in=[
            (link_label.get(kind, kind), other)
            for _, kind, _, _, other in sorted(by_part.get("link_in", []))
        ],
        identities=[
            (identity_label.get(kind, kind), value)
            for _, kind, value, _, _ in sorted(by_part.get("identity", []))
        ],
    )


# --- the composer ----------------------------------------------------------------------------


@dataclass
class ComposerResult:
    message: Any  # the Message written, or None when only a macro's changes were applied
    duplicate: bool  # this draft was already sent (a double click or a resubmitted form)


@dataclass(frozen=True)
class Recipients:
    """Who an email reply goes to besides the requester (the composer's CC, BCC and reply-all)."""

    reply_all: bool = True  # copy the ticket's CC list, as every email reply did before
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()


MAX_RECIPIENTS = 20


def parse_addresses(value: str, field: str) -> tuple[str, ...]:
    """Addresses typed into CC or BCC (commas, semicolons or spaces between them)."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    found: list[str] = []
    for part in re.split(r"[,;\s]+", value or ""):
        address = part.strip().strip("<>")
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise ValidationFailed(
                f"{field}: “{address[:100]}” is not an email address.", code="bad_address"
            ) from None
        if address.lower() not in {f.lower() for f in found}:
            found.append(address)
    if len(found) > MAX_RECIPIENTS:
        raise ValidationFailed(f"{field} takes at most {MAX_RECIPIENTS} addresses.")
    return tuple(found)


def _email_recipients(ticket: Ticket, recipients: Recipients) -> dict[str, list[str]]:
    """The message's own CC and BCC (kept in its metadata for the email adapter)."""
    cc = [c.email for c in ticket.cc.all() if c.email] if recipients.reply_all else []
    seen = {(ticket.requester.email or "").lower()}
    kept: dict[str, list[str]] = {"cc": [], "bcc": []}
    for kind, addresses in (("cc", [*cc, *recipients.cc]), ("bcc", list(recipients.bcc))):
        for address in addresses:
            if address.lower() not in seen:
                seen.add(address.lower())
                kept[kind].append(address)
    return kept


@functools.cache
def _markdown() -> Any:
    """The composer's Markdown: CommonMark and tables, raw HTML off (typed tags stay text)."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def composer_html(body_text: str) -> str:
    """The composer's Markdown as the HTML a message is stored and shown with: through the same
    redaction and sanitizer as every message body (tickets.services._bodies)."""
    if not (body_text or "").strip():
        return ""
    return tickets._bodies(body_text, _markdown().render(body_text))[1]


@transaction.atomic
def send_from_composer(
    agent: User,
    ticket: Ticket,
    *,
    body_text: str,
    internal: bool = False,
    attachments: list[tickets.InboundAttachment] | None = None,
    status_after: str | None = None,
    macro: Any = None,
    draft_key: str = "",
    markdown: bool = False,
    recipients: Recipients | None = None,
) -> ComposerResult:
    """The ticket composer's submit: the reply or note, then the changes of the macro the agent
    loaded into it, in one transaction. `draft_key` names one opening of the composer: a
    second submit of the same draft sends nothing. `markdown`: the text is Markdown (the
    composer's format); `recipients`: CC, BCC and reply-all of an email reply."""
    from caredesk.automation.services import macro_changes
    from caredesk.tickets.models import Message

    locked = Ticket.objects.select_for_update().get(pk=ticket.pk)
    draft_key = (draft_key or "")[:64]
    if draft_key and Message.objects.filter(ticket=locked, metadata__draft_key=draft_key).exists():
        return ComposerResult(message=None, duplicate=True)
    changes = macro_changes(agent, locked, macro) if macro is not None else {}
    # The composer showed the macro's status in "Then set": the agent's choice there wins.
    changes.pop("status", None)
    message = None
    if (body_text or "").strip() or attachments or not changes and not status_after:
        extra: dict[str, Any] = {"draft_key": draft_key} if draft_key else {}
        if recipients is not None and not internal and locked.channel == Channel.EMAIL:
            extra.update(_email_recipients(locked, recipients))
        # Written with the message, by the one service that writes replies.
        message = tickets.post_message(
            agent,
            locked,
            body_text=body_text,
            body_html=composer_html(body_text) if markdown else "",
            internal=internal,
            attachments=attachments or [],
            status_after=status_after,
            metadata=extra,
        )
        attach_composer_images(agent, locked, message)
        if internal:
            notify_mentions(agent, locked, message)
    elif status_after:
        changes["status"] = status_after
    if changes:
        tickets.update_ticket(agent, locked, changes)
    return ComposerResult(message=message, duplicate=False)


# --- mentions and notifications ----------------------------------------------------------------

# "@alice" in an internal note: a colleague named by the part of their email before the @, or by
# their name without spaces ("@AliceSmith"), or by their first name when only one agent has it.
MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9][A-Za-z0-9._-]{0,63})")
NOTIFICATIONS_SHOWN = 30


def mentioned_agents(text: str, author: User) -> list[User]:
    """The active colleagues a note mentions (never the author), in the order first named."""
    handles = [h.rstrip(".").lower() for h in MENTION.findall(text or "")]
    if not handles:
        return []
    candidates = Q()
    for handle in set(handles):
        candidates |= Q(email__istartswith=f"{handle}@") | Q(name__istartswith=handle[:1])
    agents = list(
        User.objects.filter(candidates, is_active=True).exclude(pk=author.pk).order_by("id")
    )
    first_names: dict[str, list[User]] = {}
    by_handle: dict[str, User] = {}
    for agent in agents:
        by_handle.setdefault(agent.email.split("@", 1)[0].lower(), agent)
        by_handle.setdefault("".join(agent.name.split()).lower(), agent)
        if agent.name.split():
            first_names.setdefault(agent.name.split()[0].lower(), []).append(agent)
    found: list[User] = []
    for handle in handles:
        named = by_handle.get(handle)
        if named is None and len(first_names.get(handle, [])) == 1:
            named = first_names[handle][0]
        if named is not None and named not in found:
            found.append(named)
    return found


def notify_mentions(author: User, ticket: Ticket, message: Any) -> list[int]:
    """Notify the colleagues an internal note mentions, those who may see the ticket (the one
    visibility rule: a mention never shows a ticket to someone outside its scope). Pushed live
    to their open workspaces after the commit."""
    from caredesk.agent.models import Notification
    from caredesk.core.realtime import push

    notified = []
    for agent in mentioned_agents(message.body_text, author):
        if not tickets.can_see(agent, ticket):
            continue
        note = Notification.objects.create(
            recipient=agent,
            kind="mention",
            actor=author,
            ticket=ticket,
            message=message,
            text=f"{author.name} mentioned you on #{ticket.pk} {ticket.subject}"[:300],
        )
        notified.append(agent.pk)
        push(
            f"agent.{agent.pk}",
            {
                "type": "agent.notification",
                "id": note.pk,
                "text": note.text,
                "url": f"{ticket_url(ticket.pk)}#m{message.pk}",
            },
        )
    return notified


def _own_notifications(agent: User) -> QuerySet[Any]:
    """The agent's notifications about tickets they may still see (the one visibility rule: a
    ticket moved to another team or restricted since takes its notifications with it)."""
    from caredesk.agent.models import Notification

    return Notification.objects.filter(recipient=agent).filter(
        Q(ticket__isnull=True) | Q(ticket__in=tickets.visible_tickets(agent).values("pk"))
    )


def unread_notifications(agent: User) -> int:
    return _own_notifications(agent).filter(read_at__isnull=True).count()


def recent_notifications(agent: User) -> list[Any]:
    return list(_own_notifications(agent)[:NOTIFICATIONS_SHOWN])


def mark_notifications_read(agent: User, ids: list[int] | None = None) -> int:
    """Mark the agent's own notifications read (all of them when ids is None)."""
    from caredesk.agent.models import Notification

    qs = Notification.objects.filter(recipient=agent, read_at__isnull=True)
    if ids is not None:
        qs = qs.filter(pk__in=ids)
    return qs.update(read_at=timezone.now())


# --- collision detection ------------------------------------------------------------------


def _presence_key(ticket_id: int) -> str:
    return f"caredesk:presence:ticket:{ticket_id}"


def mark_presence(ticket_id: int, agent: User, state: str = "viewing") -> None:
    """Record that an agent is viewing (or typing on) a ticket; kept in the shared cache."""
    if state not in ("viewing", "typing", "left"):
        state = "viewing"
    key = _presence_key(ticket_id)
    entries: dict[str, Any] = cache.get(key) or {}
    now = time.time()
    entries = {k: v for k, v in entries.items() if now - v["at"] < PRESENCE_SECONDS}
    if state == "left":
        entries.pop(str(agent.pk), None)
    else:
        entries[str(agent.pk)] = {"name": agent.name, "state": state, "at": now}
    cache.set(key, entries, PRESENCE_SECONDS * 3)


def others_on_ticket(ticket_id: int, agent: User) -> list[dict[str, Any]]:
    entries: dict[str, Any] = cache.get(_presence_key(ticket_id)) or {}
    now = time.time()
    return sorted(
        (
            {"agent_id": int(k), **v}
            for k, v in entries.items()
            if k != str(agent.pk) and now - v["at"] < PRESENCE_SECONDS
        ),
        key=lambda e: e["name"],
    )


# --- bulk actions -------------------------------------------------------------------------


@dataclass
class BulkResult:
    changed: int
    errors: list[str]


def bulk_update(agent: User, ticket_ids: list[int], action: str, value: str = "") -> BulkResult:
    """Apply one action to many tickets through the same services as single edits."""
    if not ticket_ids:
        raise ValidationFailed("Select at least one ticket.")
    if len(ticket_ids) > 200:
        raise ValidationFailed("Bulk actions take at most 200 tickets at a time.")
    selected = list(tickets.visible_tickets(agent).filter(pk__in=ticket_ids).order_by("id"))
    errors: list[str] = []
    changed = 0
    if action == "merge":
        if len(selected) < 2:
            raise ValidationFailed("Select at least two tickets to merge.")
        target_id = int(value) if value.isdigit() else selected[0].pk
        target = next((t for t in selected if t.pk == target_id), None) or tickets.access_ticket(
            agent, target_id
        )
        for ticket in selected:
            if ticket.pk == target.pk:
                continue
            try:
                tickets.merge(agent, ticket, target)
                changed += 1
            except DomainError as exc:
                errors.append(f"#{ticket.pk}: {exc.message}")
        return BulkResult(changed, errors)
    for ticket in selected:
        try:
            if action == "assign_me":
                tickets.assign(agent, ticket, agent)
            elif action == "assign":
                assignee = (
                    User.objects.filter(pk=int(value), is_active=True).first()
                    if value.isdigit()
                    else None
                )
                if assignee is None:
                    raise ValidationFailed("Choose an agent.")
                tickets.assign(agent, ticket, assignee)
            elif action == "status":
                tickets.change_status(agent, ticket, value)
            elif action == "tag":
                if not value.strip():
                    raise ValidationFailed("Type a tag.")
                tickets.add_tags(agent, ticket, [value])
            else:
                raise ValidationFailed(f"Unknown bulk action {action!r}.")
            changed += 1
        except DomainError as exc:
            errors.append(f"#{ticket.pk}: {exc.message}")
    missing = set(ticket_ids) - {t.pk for t in selected}
    errors += [f"#{pk}: not found" for pk in sorted(missing)]
    return BulkResult(changed, errors)


# --- remote images in email ---------------------------------------------------------------------


def image_message_ids(value: str) -> set[int]:
    """The messages whose remote images the agent asked to load (`?images=12,15`)."""
    return {int(part) for part in (value or "").split(",")[:50] if part.strip().isdigit()}


def html_with_images(message: Any) -> str:
    """A message's HTML with its remote images, for an agent who chose to load them.

    Ingestion keeps this copy in `metadata.html_with_images` (the stored body has remote images
    removed, so opening a ticket never tells a sender it was read). It goes through the same
    redaction and sanitizer as the stored body on every render: the copy was written before
    either ran on the body, and the sanitizer's rules may have tightened since."""
    from caredesk.assist.redaction import redact
    from caredesk.core.html import sanitize_html

    stored = (message.metadata or {}).get("html_with_images")
    if not isinstance(stored, str) or not stored:
        return ""
    return sanitize_html(redact(stored), allow_remote_images=True)


def image_toggle_url(shown: set[int], message_id: int) -> str:
    """The ticket-page query that loads (or hides again) one message's images, keeping the
    others as they are."""
    wanted = shown ^ {message_id}
    return "?images=" + ",".join(str(i) for i in sorted(wanted)) if wanted else "?"


# --- inline images in the composer --------------------------------------------------------------

# What an inserted image may be, recognised by its first bytes (the name and the browser's type
# are the sender's word): the formats every mail client and browser shows inline.
IMAGE_SIGNATURES: tuple[tuple[bytes, int, str, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", 0, "image/png", ".png"),
    (b"\xff\xd8\xff", 0, "image/jpeg", ".jpg"),
    (b"GIF87a", 0, "image/gif", ".gif"),
    (b"GIF89a", 0, "image/gif", ".gif"),
    (b"WEBP", 8, "image/webp", ".webp"),
)
# `![name](cid:...)` in the composer's Markdown: the content ids a draft refers to.
COMPOSER_CID = re.compile(r"\(cid:([a-z]{24}@caredesk)\)")


def image_type(content: bytes) -> tuple[str, str] | None:
    """The (content type, extension) of a PNG, JPEG, GIF or WebP image, or None."""
    for signature, offset, content_type, extension in IMAGE_SIGNATURES:
        if content[offset : offset + len(signature)] == signature:
            if content_type == "image/webp" and not content.startswith(b"RIFF"):
                continue
            return content_type, extension
    return None


def _image_name(filename: str, extension: str) -> str:
    """The file's name, ending as its content says, with nothing that would end the Markdown."""
    stem = re.sub(r"[\[\]()\\<>\r\n`*]", "", filename.rsplit(".", 1)[0] if filename else "").strip()
    return (stem or "image")[:100] + extension


def upload_composer_image(agent: User, ticket: Ticket, filename: str, content: bytes) -> Any:
    """Store an image for the agent's draft on this ticket; the reply that refers to it takes it
    over when sent (`attach_composer_images`). Returns the ComposerImage."""
    import secrets
    import string

    from caredesk.agent.models import ComposerImage

    found = image_type(content)
    if found is None:
        raise ValidationFailed(
            "Only PNG, JPEG, GIF and WebP images can be inserted (this file is not one).",
            code="not_an_image",
        )
    content_type, extension = found
    name = _image_name(filename, extension)
    tickets.check_attachment(name, len(content))
    # Letters only: a content id must survive the PII redaction the body goes through.
    token = "".join(secrets.choice(string.ascii_lowercase) for _ in range(24))
    with transaction.atomic():
        attachment = tickets.store_attachment(
            None,
            tickets.InboundAttachment(
                name, content_type, content, content_id=f"{token}@caredesk", inline=True
            ),
        )
        return ComposerImage.objects.create(owner=agent, ticket=ticket, attachment=attachment)


def composer_image_markdown(image: Any) -> str:
    return f"![{image.attachment.filename}](cid:{image.attachment.content_id})"


def composer_image_urls(agent: User, body_text: str) -> dict[str, str]:
    """cid -> the agent's own download URL of each pending image the draft refers to (for the
    preview)."""
    from caredesk.agent.models import ComposerImage

    cids = set(COMPOSER_CID.findall(body_text or ""))
    if not cids:
        return {}
    pending = ComposerImage.objects.filter(
        owner=agent, attachment__content_id__in=cids, attachment__message__isnull=True
    ).values_list("attachment__content_id", "attachment_id")
    return {cid: reverse("agent:composer-image", args=[pk]) for cid, pk in pending}


def attach_composer_images(agent: User, ticket: Ticket, message: Any) -> int:
    """Move the pending images the message's text refers to onto it as inline attachments (the
    ones of this agent, on this ticket). Returns how many."""
    from caredesk.agent.models import ComposerImage
    from caredesk.tickets.models import Attachment

    cids = set(COMPOSER_CID.findall(message.body_text or ""))
    if not cids:
        return 0
    pending = ComposerImage.objects.filter(
        owner=agent,
        ticket=ticket,
        attachment__content_id__in=cids,
        attachment__message__isnull=True,
    )
    rows = list(pending.values_list("pk", "attachment_id"))
    Attachment.objects.filter(pk__in=[a for _, a in rows]).update(message=message, inline=True)
    ComposerImage.objects.filter(pk__in=[p for p, _ in rows]).delete()
    return len(rows)


UNSENT_IMAGE_DAYS = 7


def delete_unsent_composer_images(now: datetime | None = None) -> int:
    """Images inserted into drafts that were never sent, older than UNSENT_IMAGE_DAYS: their rows
    and files go (a sent image belongs to its reply and is kept). Returns how many."""
    from caredesk.tickets.models import Attachment

    cutoff = (now or timezone.now()) - timedelta(days=UNSENT_IMAGE_DAYS)
    with transaction.atomic():
        stale = list(
            Attachment.objects.filter(
                message__isnull=True, composer_image__created_at__lt=cutoff
            ).values_list("pk", "file")
        )
        # The ComposerImage rows go with their attachments (cascade); the files after the commit.
        Attachment.objects.filter(pk__in=[pk for pk, _ in stale]).delete()
        storage = Attachment._meta.get_field("file").storage  # type: ignore[attr-defined]
        names = [name for _, name in stale if name]

        def delete_files() -> None:
            for name in names:
                storage.delete(name)

        transaction.on_commit(delete_files)
    return len(stale)
