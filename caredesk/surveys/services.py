"""CSAT surveys: scheduled when a ticket is solved, sent by a durable job through the ticket's
channel, answered on a signed public page, announced on the ticket's timeline and to triggers.

- `on_changes` is the change contract's receiver: a `status_changed` to solved schedules one
  survey (`schedule`) unless the settings, the ticket (merged, spam) or the customer (asked in
  the last N days, no address to write to) rule it out.
- The job `surveys.send` runs after the configured delay: rating buttons in the still-open live
  chat, else a mail with five rating links through the outbox.
- `record_answer` is called only by the answer page's POST (a link scanner's GET records
  nothing); answering again replaces the answer. Each answer is a `survey_answered` ticket event.
- `report` counts CSAT % and response rate per channel and per agent, in SQL.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from caredesk.core import jobs
from caredesk.core.errors import DomainError, ValidationFailed
from caredesk.customers.models import Customer
from caredesk.surveys.models import Survey, SurveySettings
from caredesk.tickets import services as tickets
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import Channel, EventKind, Status, Ticket

logger = logging.getLogger("caredesk.surveys")

LINK_SALT = "caredesk.surveys.answer"
LINK_DAYS = 30
# Tickets carrying this tag were spam: nobody asks a spammer how we did.
SPAM_TAG = "spam"
SCORES = {
    1: "Very dissatisfied",
    2: "Dissatisfied",
    3: "Neutral",
    4: "Satisfied",
    5: "Very satisfied",
}
LOW_SCORES = frozenset({1, 2})
SOLVED_STATUSES = (Status.SOLVED, Status.CLOSED)


class LinkInvalid(DomainError):
    status = 400
    code = "survey_link_invalid"


class LinkExpired(DomainError):
    status = 410
    code = "survey_link_expired"


# --- settings -------------------------------------------------------------------------------


def current_settings() -> SurveySettings:
    """The survey settings (the defaults until an admin saves them)."""
    found = SurveySettings.objects.filter(pk=1).first()
    return found if found is not None else SurveySettings(pk=1)


# --- scheduling on solve ----------------------------------------------------------------------


def _solved_in(change: TicketChange) -> bool:
    if EventKind.MERGED in change.kinds:
        return False
    return any(
        kind == EventKind.STATUS_CHANGED and data.get("new") == Status.SOLVED
        for kind, data in zip(change.kinds, change.data, strict=True)
    )


def on_changes(changes: list[TicketChange]) -> None:
    """The change contract's receiver: schedule a survey for each ticket that became solved."""
    solved = [change.ticket_id for change in changes if _solved_in(change)]
    if not solved:
        return
    config = current_settings()
    if not config.enabled:
        return
    for ticket_id in solved:
        schedule(ticket_id, config)


def why_not(ticket: Ticket, config: SurveySettings, now: datetime | None = None) -> str:
    """Why this solved ticket gets no survey ("" when it gets one)."""
    if not config.enabled:
        return "surveys are turned off"
    if ticket.merged_into_id:
        return "the ticket was merged"
    if ticket.tags.filter(name=SPAM_TAG).exists():
        return "the ticket is spam"
    if ticket.channel not in (config.channels or []):
        return f"surveys are off on the {ticket.channel} channel"
    customer = ticket.requester
    # Live chat can rate in the open chat; every other channel needs an address to write to.
    if not customer.email and ticket.channel != Channel.CHAT:
        return "the customer has no email address"
    if config.once_per_days:
        since = (now or timezone.now()) - timedelta(days=config.once_per_days)
        recent = Survey.objects.filter(
            customer_id=customer.pk,
            created_at__gte=since,
            state__in=(Survey.State.SCHEDULED, Survey.State.SENT),
        )
        if recent.exists():
            return f"the customer was asked in the last {config.once_per_days} days"
    return ""


def schedule(ticket_id: int, config: SurveySettings | None = None) -> Survey | None:
    """Schedule one survey about a solved ticket, sent after the configured delay; None (and a
    log line with the reason) when it gets none."""
    config = config or current_settings()
    with transaction.atomic():
        ticket = Ticket.objects.select_related("requester").filter(pk=ticket_id).first()
        if ticket is None or ticket.status not in SOLVED_STATUSES:
            return None
        # One customer's surveys are decided one at a time: two tickets solved together for the
        # same customer make one survey, not two.
        Customer.objects.select_for_update().filter(pk=ticket.requester_id).first()
        reason = why_not(ticket, config)
        if reason:
            logger.info("no survey for ticket %s: %s", ticket_id, reason)
            return None
        survey = Survey.objects.create(
            ticket=ticket,
            customer_id=ticket.requester_id,
            agent_id=ticket.assignee_id,
            channel=ticket.channel,
        )
        jobs.enqueue(
            "surveys.send",
            {"survey": survey.pk},
            dedupe_key=f"surveys.send:{survey.pk}",
            delay_seconds=config.delay_minutes * 60,
        )
    return survey


# --- sending ----------------------------------------------------------------------------------


def make_token(survey_id: int) -> str:
    """The survey's signed, unguessable link token (valid LINK_DAYS from now)."""
    return signing.dumps(survey_id, salt=LINK_SALT)


def read_token(token: str) -> int:
    """The survey a link token names; LinkExpired or LinkInvalid when it cannot be used."""
    try:
        return int(signing.loads(token, salt=LINK_SALT, max_age=timedelta(days=LINK_DAYS)))
    except signing.SignatureExpired:
        raise LinkExpired(
            f"This survey link has expired (links work for {LINK_DAYS} days)."
        ) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise LinkInvalid("This survey link is not valid. Please use the link from your message.")


def answer_url(token: str, score: int | None = None) -> str:
    url = settings.BASE_URL.rstrip("/") + reverse("surveys:answer", args=[token])
    return f"{url}?score={score}" if score else url


def rating_links(survey: Survey) -> list[tuple[int, str, str]]:
    """(score, label, URL) for the five rating links of a survey."""
    token = make_token(survey.pk)
    return [(score, label, answer_url(token, score)) for score, label in SCORES.items()]


def survey_mail(survey: Survey, config: SurveySettings) -> tuple[str, str]:
    """The survey mail's subject and plain-text body."""
    ticket = survey.ticket
    name = (ticket.requester.name or "").split(" ")[0]
    lines = [f"Hello {name}," if name else "Hello,", ""]
    lines.append(f'Your request #{ticket.pk} ("{ticket.subject}") was solved. {config.question}')
    lines.append("")
    for score, label, url in rating_links(survey):
        lines.append(f"  {score} - {label}: {url}")
    lines += [
        "",
        "Each link opens a page where you confirm your rating and can tell us more.",
    ]
    return f"How did we do? [#{ticket.pk}]", "\n".join(lines)


def _open_chat(ticket: Ticket) -> Any:
    from caredesk.channels.chat.models import ChatSession, ChatStatus

    return ChatSession.objects.filter(ticket=ticket).exclude(status=ChatStatus.ENDED).first()


def _deliver(survey: Survey, config: SurveySettings) -> str:
    """Hand the survey to its channel (in the caller's transaction): the channel it went by,
    or "" when the customer cannot be reached."""
    from caredesk.channels.email.transport import queue_mail
    from caredesk.core.realtime import push

    ticket = survey.ticket
    session = _open_chat(ticket) if ticket.channel == Channel.CHAT else None
    if session is not None:
        # Rating buttons at the end of the chat the customer still has open (after commit).
        links = [{"score": s, "label": label, "url": url} for s, label, url in rating_links(survey)]
        push(
            session.group,
            {
                "type": "chat.survey",
                "session": session.token.hex,
                "question": config.question,
                "links": links,
            },
        )
        return Channel.CHAT
    if ticket.requester.email:
        subject, body = survey_mail(survey, config)
        # The links are bearer tokens: the body is not kept once the mail is sent.
        queue_mail("survey", ticket.requester.email, subject, body, ticket=ticket, secret=True)
        return Channel.EMAIL
    return ""


@jobs.job_handler("surveys.send")
def send(payload: dict[str, Any]) -> None:
    """Send one scheduled survey (the durable job). Sends at most once: the row is locked and
    must still be scheduled; a ticket reopened during the delay gets none."""
    config = current_settings()
    with transaction.atomic():
        survey = (
            Survey.objects.select_for_update(of=("self",))
            .select_related("ticket__requester")
            .filter(pk=payload["survey"], state=Survey.State.SCHEDULED)
            .first()
        )
        if survey is None:
            return
        ticket = survey.ticket
        skip, sent_via = "", ""
        if not config.enabled:
            skip = "surveys are turned off"
        elif ticket.status not in SOLVED_STATUSES or ticket.merged_into_id:
            skip = "the ticket was reopened or merged before the survey was due"
        else:
            sent_via = _deliver(survey, config)
            if not sent_via:
                skip = "the chat has ended and the customer has no email address"
        if skip:
            logger.info("survey %s not sent: %s", survey.pk, skip)
            survey.state, survey.skip_reason = Survey.State.SKIPPED, skip
            survey.save(update_fields=["state", "skip_reason"])
            return
        survey.state, survey.sent_via, survey.sent_at = Survey.State.SENT, sent_via, timezone.now()
        survey.save(update_fields=["state", "sent_at", "sent_via"])


# --- answering --------------------------------------------------------------------------------


def survey_for_link(token: str) -> Survey:
    """The sent survey a link names: LinkInvalid / LinkExpired when it cannot be answered."""
    survey_id = read_token(token)
    survey = (
        Survey.objects.select_related("ticket", "customer")
        .filter(pk=survey_id, state=Survey.State.SENT)
        .first()
    )
    if survey is None:
        raise LinkInvalid("This survey link is not valid. Please use the link from your message.")
    return survey


def describe_answer(data: dict[str, Any]) -> str:
    """A `survey_answered` event in words, for the timeline."""
    score = data.get("score")
    words = f"rated {score} of 5 ({SCORES.get(score, '?')})"  # type: ignore[arg-type]
    if data.get("reason"):
        words += f"; what went wrong: {data['reason']}"
    if data.get("comment"):
        words += f"; “{data['comment']}”"
    if data.get("updated"):
        words += " (changed their answer)"
    return words


@transaction.atomic
def record_answer(survey: Survey, score: int, *, reason: str = "", comment: str = "") -> Survey:
    """Record (or replace) the survey's one answer, post it to the ticket's timeline and
    announce it through the change contract (triggers on `survey_answered`)."""
    if score not in SCORES:
        raise ValidationFailed("Choose a rating from 1 to 5.", code="bad_score")
    config = current_settings()
    reason = reason.strip()[:200]
    if score not in LOW_SCORES:
        reason = ""
    elif reason and reason not in config.follow_up_list:
        raise ValidationFailed("Choose one of the listed answers.", code="bad_reason")
    comment = comment.strip()[:2000]
    locked = (
        Survey.objects.select_for_update(of=("self",))
        .select_related("ticket", "customer")
        .get(pk=survey.pk)
    )
    updated = locked.answered_at is not None
    locked.score, locked.reason, locked.comment = score, reason, comment
    locked.answered_at = timezone.now()
    locked.save(update_fields=["score", "reason", "comment", "answered_at"])
    data: dict[str, Any] = {
        "survey": locked.pk,
        "score": score,
        "reason": reason,
        "comment": comment,
    }
    if updated:
        data["updated"] = True
    tickets.record_event(
        locked.ticket, EventKind.SURVEY_ANSWERED, tickets.Actor.of_customer(locked.customer), **data
    )
    return locked


# --- numbers ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    key: str  # the channel, or the agent's name
    sent: int
    answered: int
    satisfied: int

    @property
    def csat(self) -> float | None:
        """Satisfied (4-5) answers over all answers, in per cent."""
        return round(100 * self.satisfied / self.answered, 1) if self.answered else None

    @property
    def response_rate(self) -> float | None:
        return round(100 * self.answered / self.sent, 1) if self.sent else None


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    total: ReportRow
    by_channel: list[ReportRow]
    by_agent: list[ReportRow]


def _counts(row: dict[str, Any]) -> tuple[int, int, int]:
    return int(row["sent"]), int(row["answered"]), int(row["satisfied"])


def report(start: date, end: date) -> Report:
    """CSAT and response rate of the surveys sent from `start` to `end` (both days included,
    UTC): one grouped query per channel and one per agent."""
    if end < start:
        raise ValidationFailed("The end date is before the start date.", code="bad_range")
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC)
    sent = Survey.objects.filter(state=Survey.State.SENT, sent_at__gte=since, sent_at__lt=until)
    counts = {
        "sent": Count("id"),
        "answered": Count("id", filter=Q(score__isnull=False)),
        "satisfied": Count("id", filter=Q(score__gte=4)),
    }
    labels = dict(Channel.choices)
    # Read as plain rows: the stubs do not type the annotated counts.
    per_channel: Any = sent.values("channel").annotate(**counts).order_by("channel")
    per_agent: Any = (
        sent.values("agent_id", "agent__name").annotate(**counts).order_by("agent__name")
    )
    by_channel = [
        ReportRow(labels.get(row["channel"], row["channel"]), *_counts(row)) for row in per_channel
    ]
    by_agent = [ReportRow(row["agent__name"] or "(unassigned)", *_counts(row)) for row in per_agent]
    total = ReportRow(
        "All",
        sum(r.sent for r in by_channel),
        sum(r.answered for r in by_channel),
        sum(r.satisfied for r in by_channel),
    )
    return Report(start, end, total, by_channel, by_agent)
