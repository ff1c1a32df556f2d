"""Automation: placeholders, macros, canned responses, triggers with a loop guard, time-based rules."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from django.db import connection, transaction
from django.db.models import Count, Max
from django.utils import timezone

from caredesk.accounts.models import Team, User
from caredesk.automation.models import Automation, CannedResponse, Macro, Trigger
from caredesk.core.errors import ValidationFailed
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import (
    ACTIVE_STATUSES,
    Message,
    Priority,
    Status,
    Ticket,
    TicketEvent,
)
from caredesk.tickets.services import Actor, post_message, update_ticket

logger = logging.getLogger("caredesk.automation")
AUTOMATION = Actor.system("automation")
PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\.([a-z_]+)\s*\}\}")
PLACEHOLDERS = {
    "customer": {"name", "first_name", "email", "phone"},
    "ticket": {"number", "subject", "status", "priority"},
    "agent": {"name", "first_name", "email"},
}
CONDITION_FIELDS = {
    "status",
    "priority",
    "channel",
    "team",
    "assignee",
    "tags",
    "subject",
    "category",
    "language",
    "customer_vip",
    "customer_email",
    "customer_language",
    "organization",
    "reopened_count",
    "body",
    "sentiment",
    "survey_score",
}
OPERATORS = {"is", "is_not", "contains", "not_contains", "in", "gte", "lte"}
ACTION_TYPES = {
    "set",
    "add_tags",
    "assign_team",
    "assign_agent",
    "reply",
    "note",
    "escalate",
    "notify_email",
    "webhook",
}
SETTABLE = {"status", "priority", "category", "language"}
MAX_CHAIN = 5


# --- placeholders ---------------------------------------------------------------------------


def check_placeholders(text: str) -> None:
    for obj, attr in PLACEHOLDER.findall(text or ""):
        if attr not in PLACEHOLDERS.get(obj, set()):
            raise ValidationFailed(
                f"Unknown placeholder {{{{{obj}.{attr}}}}}. Known: "
                + ", ".join(
                    f"{{{{{o}.{a}}}}}" for o, attrs in PLACEHOLDERS.items() for a in sorted(attrs)
                ),
                code="unknown_placeholder",
            )


def render(text: str, ticket: Ticket, agent: User | None = None) -> str:
    customer = ticket.requester
    values = {
        "customer": {
            "name": customer.name,
            "first_name": (customer.name or "").split(" ")[0],
            "email": customer.email,
            "phone": customer.phone,
        },
        "ticket": {
            "number": str(ticket.pk),
            "subject": ticket.subject,
            "status": ticket.get_status_display(),
            "priority": ticket.priority_name,
        },
        "agent": {
            "name": agent.name if agent else "",
            "first_name": (agent.name if agent else "").split(" ")[0],
            "email": agent.email if agent else "",
        },
    }
    return PLACEHOLDER.sub(
        lambda m: values.get(m.group(1), {}).get(m.group(2), m.group(0)), text or ""
    )


# --- macros and snippets --------------------------------------------------------------------


def validate_macro(macro: Macro) -> None:
    check_placeholders(macro.reply)
    unknown = set(macro.changes or {}) - {
        "status",
        "priority",
        "tags",
        "team",
        "assignee",
        "category",
    }
    if unknown:
        raise ValidationFailed(
            f"A macro cannot change {', '.join(sorted(unknown))}.", code="unknown_field"
        )
    if macro.changes.get("status") and macro.changes["status"] not in Status.values:
        raise ValidationFailed("Unknown status in the macro.", code="bad_status")
    if macro.changes.get("priority") and macro.changes["priority"] not in {
        label for _, label in Priority.choices
    }:
        raise ValidationFailed("Unknown priority in the macro.", code="bad_priority")


def save_macro(macro: Macro) -> Macro:
    validate_macro(macro)
    macro.save()
    return macro


def macros_for(agent: User) -> list[Macro]:
    from django.db.models import Q

    return list(Macro.objects.filter(Q(owner__isnull=True) | Q(owner=agent)))


def check_macro(agent: User, macro: Macro) -> None:
    """An agent may use the shared macros and their own."""
    if macro.owner_id and macro.owner_id != agent.pk:
        raise ValidationFailed("That macro belongs to another agent.", code="not_your_macro")


def macro_changes(agent: User, ticket: Ticket, macro: Macro) -> dict[str, Any]:
    """The macro's field changes as update_ticket takes them (tags are added to the ticket's)."""
    check_macro(agent, macro)
    changes: dict[str, Any] = {}
    for key, value in (macro.changes or {}).items():
        if key == "team":
            changes["team"] = Team.objects.filter(pk=value).first()
        elif key == "assignee":
            changes["assignee"] = agent if value == "me" else User.objects.filter(pk=value).first()
        elif key == "tags":
            changes["tags"] = sorted(set(ticket.tags.values_list("name", flat=True)) | set(value))
        else:
            changes[key] = value
    return changes


@dataclass(frozen=True)
class MacroDraft:
    """What a macro puts into the composer for the agent to review before sending."""

    macro_id: int
    name: str
    body: str
    internal: bool
    status: str  # "" when the macro leaves the status alone
    changes: list[str]  # the other changes, as sentences ("Add tags refund")


def macro_draft(agent: User, ticket: Ticket, macro: Macro) -> MacroDraft:
    """The macro filled in for this ticket; nothing is written (the composer's submit does)."""
    check_macro(agent, macro)
    changes = macro.changes or {}
    described: list[str] = []
    if changes.get("priority"):
        described.append(f"Set priority to {changes['priority']}")
    if changes.get("tags"):
        described.append(f"Add tags {', '.join(changes['tags'])}")
    if "team" in changes:
        team = Team.objects.filter(pk=changes["team"]).first()
        described.append(f"Move to team {team.name}" if team else "Remove the team")
    if "assignee" in changes:
        if changes["assignee"] == "me":
            described.append("Assign to you")
        else:
            assignee = User.objects.filter(pk=changes["assignee"]).first()
            described.append(f"Assign to {assignee.name}" if assignee else "Unassign")
    if "category" in changes:
        described.append(f"Set category to {changes['category'] or '(none)'}")
    return MacroDraft(
        macro_id=macro.pk,
        name=macro.name,
        body=render(macro.reply, ticket, agent) if macro.reply.strip() else "",
        internal=macro.internal,
        status=changes.get("status") or "",
        changes=described,
    )


@transaction.atomic
def apply_macro(agent: User, ticket: Ticket, macro: Macro) -> Ticket:
    """Apply a macro at once (the API's explicit call; the workspace loads it into the
    composer instead, see agent.services.send_from_composer)."""
    changes = macro_changes(agent, ticket, macro)
    status_after = changes.pop("status", None)
    if macro.reply.strip():
        post_message(
            agent,
            ticket,
            body_text=render(macro.reply, ticket, agent),
            internal=macro.internal,
            status_after=status_after,
        )
        status_after = None
    if status_after:
        changes["status"] = status_after
    if changes:
        update_ticket(agent, ticket, changes)
    return Ticket.objects.get(pk=ticket.pk)


def save_snippet(snippet: CannedResponse) -> CannedResponse:
    check_placeholders(snippet.body)
    snippet.save()
    return snippet


SHORTCUT = re.compile(r"::([a-z0-9_-]+)")


def find_snippet(agent: User, shortcut: str) -> CannedResponse | None:
    """The agent's own snippet for the shortcut, else the shared one."""
    return (
        CannedResponse.objects.filter(shortcut=shortcut, owner=agent).first()
        or CannedResponse.objects.filter(shortcut=shortcut, owner__isnull=True).first()
    )


def snippets_for(agent: User) -> list[CannedResponse]:
    from django.db.models import Q

    return list(CannedResponse.objects.filter(Q(owner__isnull=True) | Q(owner=agent)))


def expand_shortcut(agent: User, ticket: Ticket, shortcut: str) -> str:
    """The text `::shortcut` stands for on this ticket (the composer's text expander)."""
    shortcut = shortcut.strip().removeprefix("::").lower()
    snippet = find_snippet(agent, shortcut) if SHORTCUT.fullmatch(f"::{shortcut}") else None
    if snippet is None:
        known = ", ".join(f"::{s.shortcut}" for s in snippets_for(agent)) or "none yet"
        raise ValidationFailed(
            f"There is no snippet ::{shortcut[:40]}. Your snippets: {known}.",
            code="unknown_snippet",
        )
    return render(snippet.body, ticket, agent)


def expand_snippets(text: str, ticket: Ticket, agent: User) -> str:
    """Replace ::shortcut with the agent's (or a shared) canned response, placeholders filled."""

    def replace(match: re.Match[str]) -> str:
        found = find_snippet(agent, match.group(1))
        return render(found.body, ticket, agent) if found else match.group(0)

    return SHORTCUT.sub(replace, text or "")


# --- triggers -------------------------------------------------------------------------------


def validate_trigger(trigger: Trigger) -> None:
    from caredesk.tickets.models import EventKind

    trigger.events = [TRIGGER_EVENT_ALIASES.get(e, e) for e in trigger.events or []]
    if not trigger.events or not set(trigger.events) <= set(EventKind.values):
        raise ValidationFailed(
            "events must be ticket event kinds (e.g. created, message_added, sla).",
            code="bad_events",
        )
    if not isinstance(trigger.conditions or [], list) or not all(
        isinstance(c, dict) for c in trigger.conditions or []
    ):
        raise ValidationFailed(
            'Conditions are a list of objects, e.g. [{"field": "priority", "op": "is", '
            '"value": "urgent"}].',
            code="bad_condition",
        )
    for condition in trigger.conditions or []:
        validate_condition(condition)
    fields = [(c["field"], c["op"], str(c.get("value"))) for c in trigger.conditions or []]
    for f, op, value in fields:
        if op == "is" and any(f2 == f and op2 == "is" and v2 != value for f2, op2, v2 in fields):
            raise ValidationFailed(
                f"The conditions can never all hold ({f} cannot be two values).", code="impossible"
            )
    if not trigger.actions:
        raise ValidationFailed("A trigger needs at least one action.", code="no_actions")
    validate_actions(trigger.actions)


def validate_actions(actions: Any) -> None:
    """Actions of a trigger or a time-based automation."""
    if not isinstance(actions, list) or not all(isinstance(a, dict) for a in actions):
        raise ValidationFailed(
            'Actions are a list of objects, e.g. [{"type": "note", "value": "text"}].',
            code="bad_action",
        )
    for action in actions:
        validate_action(action)


def validate_condition(condition: dict[str, Any]) -> None:
    """One condition of a trigger: a known field and operator."""
    if condition.get("field") not in CONDITION_FIELDS:
        raise ValidationFailed(
            f"Unknown condition field {condition.get('field')!r}.", code="unknown_field"
        )
    if condition.get("op") not in OPERATORS:
        raise ValidationFailed(f"Unknown operator {condition.get('op')!r}.", code="bad_operator")


def validate_action(action: dict[str, Any]) -> None:
    """One action of a trigger or a time-based automation."""
    if action.get("type") not in ACTION_TYPES:
        raise ValidationFailed(
            f"Unknown action {action.get('type')!r}. Known: {', '.join(sorted(ACTION_TYPES))}.",
            code="bad_action",
        )
    if action["type"] == "set" and action.get("field") not in SETTABLE:
        settable = ", ".join(sorted(SETTABLE))
        raise ValidationFailed(
            f"A rule cannot set {action['field']!r}; it can set {settable}."
            if action.get("field")
            else f'A "set" action needs a "field": one of {settable}.',
            code="unknown_field",
        )
    if action["type"] in ("reply", "note"):
        check_placeholders(str(action.get("value", "")))


# --- rules typed in the workspace's rule builder ----------------------------------------------

NUMERIC_FIELDS = {"reopened_count": int, "sentiment": float, "survey_score": int}
ID_FIELDS = {"team", "assignee", "organization"}
YES = {"yes", "true", "1"}
NO = {"no", "false", "0"}


def _one_value(field: str, text: str) -> Any:
    """One value typed for a condition on `field`, as the rule stores it."""
    if field == "customer_vip":
        if text.lower() in YES | NO:
            return text.lower() in YES
        raise ValidationFailed("VIP is yes or no.", code="bad_value")
    if field in NUMERIC_FIELDS:
        try:
            return NUMERIC_FIELDS[field](text)
        except ValueError:
            raise ValidationFailed(f"{field} is a number.", code="bad_value") from None
    if field in ID_FIELDS:
        if text.lower() == "none":
            return None
        if not text.isdigit():
            raise ValidationFailed(
                f"{field} is a number (its id), or none for no {field}.", code="bad_value"
            )
        return int(text)
    if field == "priority" and text.lower() not in {label for _, label in Priority.choices}:
        raise ValidationFailed("Priority is low, normal, high or urgent.", code="bad_value")
    if field == "status" and text.lower() not in Status.values:
        raise ValidationFailed(f"Status is one of {', '.join(Status.values)}.", code="bad_value")
    return text.lower() if field in ("priority", "status") else text


def condition_from_text(field: str, op: str, text: str) -> dict[str, Any]:
    """A condition built from the rule builder's row (field, operator, the value as typed):
    checked and typed as the evaluation compares it. `in` takes values separated by commas."""
    validate_condition({"field": field, "op": op})
    text = (text or "").strip()
    if not text:
        raise ValidationFailed("Enter a value.", code="missing_value")
    if op in ("gte", "lte") and field not in NUMERIC_FIELDS:
        raise ValidationFailed(
            f"“at least” and “at most” compare numbers: {', '.join(sorted(NUMERIC_FIELDS))}.",
            code="bad_operator",
        )
    if op in ("contains", "not_contains"):
        return {"field": field, "op": op, "value": text}
    if op == "in":
        items = [item.strip() for item in text.split(",") if item.strip()]
        return {"field": field, "op": op, "value": [_one_value(field, item) for item in items]}
    return {"field": field, "op": op, "value": _one_value(field, text)}


def action_from_text(kind: str, field: str, text: str) -> dict[str, Any]:
    """An action built from the rule builder's row (type, the field for `set`, the value as
    typed), checked as `validate_action` checks saved rules, plus what each type needs."""
    text = (text or "").strip()
    action: dict[str, Any] = {"type": kind}
    if kind == "set":
        action["field"] = field
    validate_action(action)
    needs_value = kind not in ("escalate",)
    if needs_value and not text:
        raise ValidationFailed("Enter a value.", code="missing_value")
    if kind == "add_tags":
        action["value"] = [tag.strip() for tag in text.split(",") if tag.strip()]
    elif kind == "assign_team":
        if not text.isdigit() or not Team.objects.filter(pk=int(text)).exists():
            raise ValidationFailed(f"There is no team {text!r}.", code="bad_value")
        action["value"] = int(text)
    elif kind == "assign_agent":
        if not text.isdigit() or not User.objects.filter(pk=int(text), is_active=True).exists():
            raise ValidationFailed(f"There is no active agent {text!r}.", code="bad_value")
        action["value"] = int(text)
    elif kind == "set" and field == "priority":
        action["value"] = _one_value("priority", text)
    elif kind == "set" and field == "status":
        action["value"] = _one_value("status", text)
    elif kind == "notify_email" and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", text):
        raise ValidationFailed(f"{text!r} is not an email address.", code="bad_value")
    elif kind == "webhook" and not re.match(r"https?://[^\s/]+", text):
        raise ValidationFailed("A webhook is an http:// or https:// address.", code="bad_value")
    else:
        action["value"] = text
    action.setdefault("value", text)
    validate_action(action)
    return action


def value_text(value: Any) -> str:
    """A stored condition or action value as the rule builder shows it."""
    if isinstance(value, list):
        return ", ".join(value_text(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "none" if value is None else str(value)


def save_trigger(trigger: Trigger) -> Trigger:
    validate_trigger(trigger)
    trigger.save()
    return trigger


# Where each condition field is read from: a column of the ticket or of its requester.
FACT_COLUMNS = {
    "status": "status",
    "priority": "priority",
    "channel": "channel",
    "team": "team_id",
    "assignee": "assignee_id",
    "subject": "subject",
    "category": "category",
    "language": "language",
    "customer_vip": "requester__vip",
    "customer_email": "requester__email",
    "customer_language": "requester__language",
    "organization": "organization_id",
    "reopened_count": "reopened_count",
}


@lru_cache(maxsize=512)
def _facts_statement(fields: frozenset[str], vendor: str) -> tuple[str, tuple[str, ...]]:
    """The SQL reading these condition fields of one ticket (its id the only parameter) and the
    field each column holds. The ORM writes it once per process and set of fields; evaluating an
    event then only runs it (building the query each time cost more than running it)."""
    names = tuple(sorted(name for name in fields if name in FACT_COLUMNS))
    columns = [FACT_COLUMNS[name] for name in names]
    query = Ticket.objects.filter(pk=0).order_by()
    if "tags" in fields:
        sql, params = query.values(*columns, "tags__name").query.sql_with_params()
    else:
        sql, params = query.values(*columns)[:1].query.sql_with_params()
    assert list(params) == [0], params  # the ticket id is the only parameter
    return sql, names


def _run(sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ticket_facts(
    ticket_id: int, body: str, fields: Iterable[str] = CONDITION_FIELDS
) -> dict[str, Any] | None:
    """The values conditions test, for the fields asked for, in one query (with the tags joined
    in, one row per tag, when tags are tested). None if the ticket is gone."""
    wanted = frozenset(fields)
    sql, names = _facts_statement(wanted, connection.vendor)
    rows = _run(sql, [ticket_id])
    if not rows:
        return None
    facts = dict(zip(names, rows[0], strict=False))
    if "priority" in facts:
        facts["priority"] = Priority(facts["priority"]).label
    if facts.get("customer_vip") is not None:
        facts["customer_vip"] = bool(facts["customer_vip"])  # SQLite answers 0 or 1
    if "tags" in wanted:
        facts["tags"] = sorted(row[-1] for row in rows if row[-1] is not None)
    facts["body"] = body
    return facts


@lru_cache(maxsize=64)
def _by_ids_statement(model: str, columns: tuple[str, ...], count: int, vendor: str) -> str:
    """SQL reading `columns` of `count` rows by id (the ids its only parameters), written once."""
    manager = TicketEvent.objects if model == "event" else Message.objects
    sql, params = (
        manager.filter(pk__in=list(range(count))).order_by().values_list(*columns)
    ).query.sql_with_params()
    assert list(params) == list(range(count)), params
    return sql


def _rows_by_ids(model: str, columns: tuple[str, ...], ids: list[int]) -> list[tuple[Any, ...]]:
    if not ids:
        return []
    return _run(_by_ids_statement(model, columns, len(ids), connection.vendor), list(ids))


def compare(op: str, actual: Any, expected: Any) -> bool:
    if op == "is":
        return actual == expected or (isinstance(actual, list) and expected in actual)
    if op == "is_not":
        return actual != expected and not (isinstance(actual, list) and expected in actual)
    if op == "contains":
        return (
            str(expected).lower()
            in (" ".join(actual) if isinstance(actual, list) else str(actual or "")).lower()
        )
    if op == "not_contains":
        return str(expected).lower() not in str(actual or "").lower()
    if op == "in":
        return actual in (expected or [])
    if op == "gte":
        return actual is not None and actual >= expected
    return actual is not None and actual <= expected


def holds(condition: dict[str, Any], ticket: Ticket, body: str) -> bool:
    facts = ticket_facts(ticket.pk, body, [condition["field"]]) or {}
    if condition["field"] == "sentiment":
        from caredesk.assist.sentiment import score

        facts["sentiment"] = score(body)
    return compare(condition["op"], facts.get(condition["field"]), condition.get("value"))


@dataclass(frozen=True)
class CompiledTrigger:
    """A trigger as evaluated: its conditions as (field, operator, value), read once."""

    pk: int
    name: str
    events: frozenset[str]
    conditions: tuple[tuple[str, str, Any], ...]
    actions: list[dict[str, Any]]

    @classmethod
    def of(cls, trigger: Trigger) -> CompiledTrigger:
        return cls(
            pk=trigger.pk,
            name=trigger.name,
            events=frozenset(trigger.events),
            conditions=tuple(
                (c["field"], c["op"], c.get("value")) for c in trigger.conditions or []
            ),
            actions=trigger.actions,
        )

    def holds(self, facts: dict[str, Any], skip: frozenset[str] = frozenset()) -> bool:
        """Whether every condition holds (those on the `skip` fields taken as holding)."""
        return all(
            compare(op, facts[name], value)
            for name, op, value in self.conditions
            if name not in skip
        )


class TriggerSet:
    """The active triggers in order, indexed by the event kinds they listen to."""

    def __init__(self, triggers: list[CompiledTrigger]) -> None:
        self.order = {t.pk: n for n, t in enumerate(triggers)}
        self.by_kind: dict[str, list[CompiledTrigger]] = {}
        for trigger in triggers:
            for kind in trigger.events:
                self.by_kind.setdefault(kind, []).append(trigger)

    def listening(self, kinds: Iterable[str]) -> list[CompiledTrigger]:
        found = {t.pk: t for kind in kinds for t in self.by_kind.get(kind, ())}
        return sorted(found.values(), key=lambda t: self.order[t.pk])


@dataclass
class _CachedTriggers:
    stamp: tuple[Any, ...]
    checked_at: float
    triggers: TriggerSet


_cached: _CachedTriggers | None = None
# How long a process trusts its compiled triggers before asking the database whether they
# changed: edits made in another process apply within this time.
RECHECK_SECONDS = 1.0


def active_triggers() -> TriggerSet:
    """The compiled active triggers, reloaded only when a trigger was added, changed or deleted."""
    global _cached
    now = time.monotonic()
    cached = _cached
    # Inside a transaction the rows may be uncommitted (and rolled back later): always check.
    trusted = not transaction.get_connection().in_atomic_block
    if cached is not None and trusted and now - cached.checked_at < RECHECK_SECONDS:
        return cached.triggers
    summary = Trigger.objects.aggregate(n=Count("id"), changed=Max("updated_at"))
    stamp = (summary["n"], summary["changed"])
    if cached is None or cached.stamp != stamp:
        triggers = TriggerSet([CompiledTrigger.of(t) for t in Trigger.objects.filter(active=True)])
        cached = _CachedTriggers(stamp=stamp, checked_at=now, triggers=triggers)
    cached.checked_at = now
    _cached = cached
    return cached.triggers


def forget_triggers(**kwargs: Any) -> None:
    """Drop this process's compiled triggers (a trigger was saved or deleted here)."""
    global _cached
    _cached = None


def run_actions(actions: list[dict[str, Any]], ticket: Ticket, source: str) -> None:
    from caredesk.routing.services import escalate

    for action in actions:
        kind, value = action["type"], action.get("value")
        target_id = int(value) if isinstance(value, int | str) and str(value).isdigit() else 0
        if kind == "set":
            update_ticket(AUTOMATION, ticket, {action["field"]: value})
        elif kind == "add_tags":
            update_ticket(
                AUTOMATION,
                ticket,
                {
                    "tags": sorted(
                        set(ticket.tags.values_list("name", flat=True)) | set(value or [])
                    )
                },
            )
        elif kind == "assign_team":
            update_ticket(AUTOMATION, ticket, {"team": Team.objects.filter(pk=target_id).first()})
        elif kind == "assign_agent":
            update_ticket(
                AUTOMATION,
                ticket,
                {"assignee": User.objects.filter(pk=target_id, is_active=True).first()},
            )
        elif kind in ("reply", "note"):
            post_message(
                Actor.bot(source),
                ticket,
                body_text=render(str(value), ticket),
                internal=kind == "note",
            )
        elif kind == "escalate":
            escalate(AUTOMATION, ticket, reason=f"{source}: {value or 'automatic rule'}")
        elif kind == "notify_email":
            from caredesk.channels.email.transport import queue_mail

            # An outbox row in this transaction: sent by a worker, retried, never twice.
            queue_mail(
                "rule_notification",
                str(value),
                f"[#{ticket.pk}] {ticket.subject}",
                f"Rule “{source}” fired on ticket #{ticket.pk}.",
                ticket=ticket,
            )
        elif kind == "webhook":
            from caredesk.core import jobs

            jobs.enqueue(
                "automation.webhook", {"url": value, "ticket_id": ticket.pk, "rule": source}
            )
        ticket.refresh_from_db()


# Conditions read from the event's messages rather than from the ticket.
MESSAGE_FIELDS = frozenset({"body", "sentiment"})
# Conditions read from the events' own data (None when the change has no such event).
EVENT_FIELDS = frozenset({"survey_score"})
# Event names rules may also use: "survey.answered" is the survey_answered ticket event.
TRIGGER_EVENT_ALIASES = {"survey.answered": "survey_answered"}
AUTOMATED_ACTORS = ("system", "bot")


def on_ticket_event(
    ticket_id: int,
    kinds: list[str],
    event_ids: list[int],
    actor_kind: str,
    messages: list[tuple[int, str | None]],
    event_facts: dict[str, Any] | None = None,
) -> int:
    """Run the matching triggers. Changes made by triggers fire triggers again, but a chain of
    events caused only by automation stops after MAX_CHAIN rounds (counted per ticket in the shared
    cache, so the guard holds across processes and after commit).

    `actor_kind` is who caused the events and `messages` the (message id, author kind) pairs
    they concern, as the change contract says: the events need no read.

    Events no active trigger listens to cost no query beyond an occasional check that the
    compiled triggers are current. The others cost one query for the ticket's fields (tags joined
    in when tested); only when some listening trigger can still hold whatever the messages say are
    the events read (the loop guard) and, when a trigger tests them, the message bodies."""
    from django.core.cache import cache

    listening = active_triggers().listening(kinds)
    if not listening:
        return 0
    fields = {name for trigger in listening for name, _, _ in trigger.conditions}
    facts = ticket_facts(ticket_id, "", fields)
    if facts is None:
        return 0
    facts.update({name: (event_facts or {}).get(name) for name in EVENT_FIELDS})
    key = f"caredesk:trigger-chain:{ticket_id}"
    if not any(trigger.holds(facts, skip=MESSAGE_FIELDS) for trigger in listening):
        # Nothing fires, so this event continues no chain. One caused by a person ends it.
        if actor_kind not in AUTOMATED_ACTORS:
            cache.delete(key)
        return 0
    automated = actor_kind in AUTOMATED_ACTORS
    depth = (cache.get(key) or 0) + 1 if automated else 0
    if depth > MAX_CHAIN:
        logger.warning("trigger chain on ticket %s stopped after %s rounds", ticket_id, MAX_CHAIN)
        cache.delete(key)
        return 0
    cache.set(key, depth, 300)
    message_ids = [message_id for message_id, _ in messages]
    from_customer = {message_id for message_id, author in messages if author == "customer"}
    facts["sentiment"] = 0.0
    if message_ids and MESSAGE_FIELDS & fields:
        texts = _rows_by_ids("message", ("pk", "body_text"), message_ids)
        facts["body"] = " ".join(text for _, text in texts)
        if "sentiment" in fields:
            from caredesk.assist.sentiment import score

            # The customer's mood: what agents, bots and notes write does not count.
            facts["sentiment"] = score(" ".join(t for pk, t in texts if pk in from_customer))
    fired = 0
    ticket: Ticket | None = None
    for trigger in listening:
        if trigger.holds(facts):
            if ticket is None:
                ticket = Ticket.objects.select_related("requester").get(pk=ticket_id)
            with transaction.atomic():
                run_actions(trigger.actions, ticket, trigger.name)
            fired += 1
            # The actions changed the ticket: later rules see it as it is now.
            facts = {**facts, **(ticket_facts(ticket_id, facts["body"], fields) or {})}
    return fired


def on_ticket_events(changes: list[TicketChange]) -> int:
    """Run the matching triggers for a bulk change: the tickets no active trigger listens for
    (the usual case for assignments) cost nothing at all; the others are evaluated one by one."""
    triggers = active_triggers()
    fired = 0
    for change in changes:
        if triggers.listening(change.kinds):
            fired += on_ticket_event(
                change.ticket_id,
                change.kinds,
                change.event_ids,
                actor_kind=change.actor_kind,
                messages=change.messages,
                event_facts=event_facts(change),
            )
    return fired


def event_facts(change: TicketChange) -> dict[str, Any]:
    """The EVENT_FIELDS a change's events carry: the score of a survey answer."""
    facts: dict[str, Any] = {}
    for kind, data in zip(change.kinds, change.data, strict=True):
        if kind == "survey_answered":
            facts["survey_score"] = data.get("score")
    return facts


def validate_automation(rule: Automation) -> None:
    if rule.status not in ACTIVE_STATUSES:
        raise ValidationFailed(
            "A time-based automation watches tickets that are still open: new, open, pending "
            "or on hold.",
            code="bad_status",
        )
    if not rule.hours or rule.hours < 1:
        raise ValidationFailed("Hours must be at least 1.", code="bad_hours")
    if not rule.actions:
        raise ValidationFailed("An automation needs at least one action.", code="no_actions")
    validate_actions(rule.actions)


def save_automation(rule: Automation) -> Automation:
    validate_automation(rule)
    rule.save()
    return rule


def run_automations(now: Any = None) -> int:
    now = now or timezone.now()
    done = 0
    for rule in Automation.objects.filter(active=True):
        cutoff = now - timedelta(hours=rule.hours)
        for ticket in Ticket.objects.filter(
            status=rule.status, updated_at__lte=cutoff, status__in=ACTIVE_STATUSES
        )[:1000]:
            with transaction.atomic():
                run_actions(rule.actions, ticket, rule.name)
            done += 1
    return done
