"""Live chat domain logic: visitors, identity, starting a chat, offering it to agents, messages,
typing and read receipts, transfer, ending and transcripts.

A chat is a ticket on the "chat" channel. Visitor messages enter through `tickets.services.ingest`
(idempotent on the client's message id, so a resend after a reconnect stores nothing twice);
agent messages go through `tickets.services.post_message`. Every stored message, from anywhere
(the chat column or the ticket page), reaches the widget through `deliver_changes` (the change contract).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from caredesk.accounts.models import Presence, Team, User
from caredesk.assist.redaction import redact_cut
from caredesk.channels.chat.models import ChatSession, ChatStatus, ChatWidget
from caredesk.core import jobs
from caredesk.core.errors import (
    Conflict,
    DomainError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from caredesk.core.ratelimit import RateLimited, count_attempts, hit_rate_limit
from caredesk.core.realtime import push, send_batch
from caredesk.customers.models import IdentityKind
from caredesk.customers.services import add_identity, find_by_identity, normalize_identity
from caredesk.tickets import services as tickets
from caredesk.tickets.access import Viewer, may_see, ticket_audience
from caredesk.tickets.changes import TicketChange
from caredesk.tickets.models import (
    AuthorKind,
    Channel,
    EventKind,
    Message,
    Status,
    Ticket,
)

logger = logging.getLogger("caredesk.chat")

MAX_MESSAGE_CHARS = 5_000
MAX_NAME_CHARS = 100
# A visitor may send this many messages per window; more is refused (the widget keeps and
# resends them), which stops floods without losing what a real person typed.
FLOOD_LIMIT = 20
FLOOD_WINDOW_SECONDS = 10
FLOOD_MESSAGE = "You are sending messages too fast; they will be sent in a moment."
OFFER_TIMEOUT_SECONDS = 30
VISITOR_SALT = "caredesk.chat.visitor"
TOPIC_CHARS = 100


# --- visitors and identity ------------------------------------------------------------------


def issue_visitor_token() -> str:
    """A new anonymous visitor id, signed so a client cannot pick someone else's."""
    return signing.dumps({"v": uuid.uuid4().hex}, salt=VISITOR_SALT)


def read_visitor_token(token: str) -> str:
    """The visitor id inside a signed token; ValidationFailed for a forged or damaged one."""
    try:
        data = signing.loads(token, salt=VISITOR_SALT)
    except signing.BadSignature as exc:
        raise ValidationFailed("The visitor id is not valid.", code="bad_visitor") from exc
    visitor = data.get("v") if isinstance(data, dict) else None
    if not isinstance(visitor, str) or not re.fullmatch(r"[0-9a-f]{32}", visitor):
        raise ValidationFailed("The visitor id is not valid.", code="bad_visitor")
    return visitor


def identity_hash(secret: str, user_id: str) -> str:
    """What an embedding site computes server-side: hex HMAC-SHA256 of its user id."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_identity(widget: ChatWidget, user_id: str, signature: str) -> str:
    """The embedding site's user id when its signature is right; PermissionDenied otherwise."""
    user_id = (user_id or "").strip()
    if not user_id or len(user_id) > 200:
        raise PermissionDenied("The signed identity is not valid.", code="identity_rejected")
    if not widget.identity_secret:
        raise PermissionDenied(
            "This widget does not accept signed identities.", code="identity_rejected"
        )
    expected = identity_hash(widget.identity_secret, user_id)
    if not hmac.compare_digest(expected, (signature or "").lower()):
        raise PermissionDenied("The signed identity is not valid.", code="identity_rejected")
    return user_id


def get_widget(key: str) -> ChatWidget:
    widget = ChatWidget.objects.select_related("team").filter(key=key, active=True).first()
    if widget is None:
        raise NotFound("This chat widget does not exist.")
    return widget


def origin_allowed(widget: ChatWidget, origin: str | None) -> bool:
    """A browser WebSocket or upload from `origin` may talk to this widget."""
    if not origin:
        return False
    origin = origin.rstrip("/").lower()
    allowed = {o.rstrip("/").lower() for o in widget.allowed_origins or []}
    if "*" in allowed or origin in allowed:
        return True
    host = (urlsplit(origin).hostname or "").lower()
    own = {h.lower().lstrip(".") for h in settings.ALLOWED_HOSTS}
    return host in own or host.strip("[]") in {h.strip("[]") for h in own} or "*" in own


# --- availability and offers ----------------------------------------------------------------


def _team_agents(team: Team | None) -> list[User]:
    qs = User.objects.filter(is_active=True, presence=Presence.ONLINE)
    qs = qs.filter(teams=team) if team is not None else qs
    return list(qs.prefetch_related("skills").distinct())


def available_agents(team: Team | None, *, exclude: list[int] | None = None) -> list[User]:
    """Online agents of the team with room for one more chat, best first (routing's policy)."""
    from caredesk.routing import services as routing
    from caredesk.routing.models import RoutingMethod, TeamRouting

    agents = [a for a in _team_agents(team) if a.pk not in (exclude or [])]
    if not agents:
        return []
    used = routing.load(agents)
    weight = routing.CHANNEL_WEIGHT[Channel.CHAT]
    free = [a for a in agents if used.get(a.pk, 0.0) + weight <= a.capacity]
    config = TeamRouting.objects.filter(team=team).first() if team else None
    ordered = []
    method = config.method if config else RoutingMethod.LEAST_LOADED
    probe = Ticket(channel=Channel.CHAT)
    while free:
        best = routing.choose(probe, free, method, used)
        if best is None:
            break
        ordered.append(best)
        free.remove(best)
    return ordered


def agents_online(widget: ChatWidget) -> bool:
    qs = User.objects.filter(is_active=True, presence=Presence.ONLINE)
    return (qs.filter(teams=widget.team) if widget.team_id else qs).exists()


def _session_payload(session: ChatSession) -> dict[str, Any]:
    return {
        "session": session.token.hex,
        "ticket": session.ticket_id,
        "customer": session.customer.name or session.customer.email or "Visitor",
        "topic": session.topic,
        "status": session.status,
        "team": session.team.name if session.team else "",
    }


def offer(session: ChatSession) -> User | None:
    """Offer a waiting chat to the best available agent; None leaves it in the team's queue."""
    session = ChatSession.objects.select_related("customer", "team", "ticket").get(pk=session.pk)
    if session.status != ChatStatus.WAITING:
        return None
    ticket = session.ticket
    candidates = [
        agent
        for agent in available_agents(session.team, exclude=list(session.declined_by or []))
        # Only to an agent who may see the chat's ticket as it waits (the visibility rule; the
        # candidates are members of the chat's team).
        if may_see(
            Viewer.of_role(agent.pk, agent.role, (session.team_id,) if session.team_id else ()),
            team_id=ticket.team_id,
            assignee_id=None,
            restricted=ticket.restricted,
        )
    ]
    agent = candidates[0] if candidates else None
    ChatSession.objects.filter(pk=session.pk).update(
        offered_to=agent, offered_at=timezone.now() if agent else None
    )
    payload = {"type": "chat.offer", **_session_payload(session)}
    if agent is not None:
        push(f"agent.{agent.pk}", {**payload, "offered": True})
    for group in _queue_groups(ticket):
        push(group, {**payload, "offered": False, "queue": True})
    return agent


def _queue_groups(ticket: Ticket) -> tuple[str, ...]:
    """Who sees a waiting chat in their queue: those who may see its ticket as it waits (the
    visibility rule; a restricted chat: the leads of its team and the admins)."""
    return ticket_audience(team_id=ticket.team_id, assignee_id=None, restricted=ticket.restricted)


def reoffer_stale(now: Any = None) -> int:
    """Offers nobody answered within OFFER_TIMEOUT_SECONDS go to the next agent (periodic)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=OFFER_TIMEOUT_SECONDS)
    count = 0
    stale = ChatSession.objects.filter(status=ChatStatus.WAITING).exclude(
        offered_at__gt=cutoff, offered_to__isnull=False
    )
    for session in stale[:500]:
        if session.offered_to_id:
            session.declined_by = sorted({*(session.declined_by or []), session.offered_to_id})
            ChatSession.objects.filter(pk=session.pk).update(declined_by=session.declined_by)
        if offer(session):
            count += 1
    return count


# --- starting and messaging -----------------------------------------------------------------


@dataclass
class VisitorContext:
    widget: ChatWidget
    visitor_id: str
    external_user_id: str = ""


def _clean_text(text: Any) -> str:
    if not isinstance(text, str):
        raise ValidationFailed("A message is text.", code="bad_message")
    text = text.replace("\x00", "").strip()
    if not text:
        raise ValidationFailed("The message is empty.", code="empty_message")
    if len(text) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            f"A chat message is at most {MAX_MESSAGE_CHARS} characters.", code="too_long"
        )
    return text


def _clean_client_id(client_id: Any) -> str:
    if not isinstance(client_id, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", client_id):
        raise ValidationFailed("Each message needs a client id (1-64 letters, digits, - or _).")
    return client_id


def _sender(ctx: VisitorContext, email: str, name: str) -> tickets.SenderIdentity:
    """Who the visitor is in the CRM: a signed site identity, else their email, else the visitor."""
    if ctx.external_user_id:
        return tickets.SenderIdentity(
            IdentityKind.EXTERNAL, f"{ctx.widget.key}:{ctx.external_user_id}", name
        )
    if email:
        return tickets.SenderIdentity(IdentityKind.EMAIL, email, name)
    return tickets.SenderIdentity(IdentityKind.CHAT, ctx.visitor_id, name)


def _remember_identities(session: ChatSession, ctx: VisitorContext, email: str) -> None:
    """Attach the visitor id (and email) to the customer, unless another customer owns them."""
    for kind, value in ((IdentityKind.CHAT, ctx.visitor_id), (IdentityKind.EMAIL, email)):
        if not value:
            continue
        owner = find_by_identity(kind, value)
        if owner is None:
            add_identity(session.customer, kind, value)


def current_session(ctx: VisitorContext) -> ChatSession | None:
    return (
        ChatSession.objects.select_related("customer", "agent", "team")
        .filter(widget=ctx.widget, visitor_id=ctx.visitor_id)
        .exclude(status=ChatStatus.ENDED)
        .order_by("-id")
        .first()
    )


def _flood_check(ctx: VisitorContext) -> None:
    _count_line(ctx.widget.key, ctx.visitor_id)


def _count_line(widget_key: str, visitor_id: str) -> None:
    try:
        hit_rate_limit(
            "chat",
            f"{widget_key}:{visitor_id}",
            limit=FLOOD_LIMIT,
            window_seconds=FLOOD_WINDOW_SECONDS,
        )
    except RateLimited as exc:
        raise RateLimited(FLOOD_MESSAGE) from exc


def start_chat(
    ctx: VisitorContext,
    *,
    text: Any,
    client_id: Any,
    name: Any = "",
    email: Any = "",
    topic: Any = "",
) -> tuple[ChatSession, Message]:
    """The pre-chat form: the first message opens a chat ticket and offers it to an agent."""
    existing = current_session(ctx)
    if existing is not None:
        message, _ = visitor_message(ctx, existing, text=text, client_id=client_id)
        return existing, message
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    name = redact_cut(str(name or "").strip(), MAX_NAME_CHARS)
    email = str(email or "").strip()
    topic = redact_cut(str(topic or "").strip(), TOPIC_CHARS)
    if email:
        email = normalize_identity(IdentityKind.EMAIL, email)
    elif ctx.widget.require_email and not ctx.external_user_id:
        raise ValidationFailed("Please give your email address.", code="email_required")
    _flood_check(ctx)
    token = uuid.uuid4()
    with transaction.atomic():
        result = tickets.ingest(
            tickets.InboundMessage(
                channel=Channel.CHAT,
                sender=_sender(ctx, email, name),
                subject=topic or redact_cut(text.splitlines()[0], 80),
                body_text=text,
                external_id=f"chat:{token.hex}:{client_id}",
                thread_key=f"chat:{token.hex}",
                team=ctx.widget.team,
                metadata={"chat_session": token.hex, "client_id": client_id},
            )
        )
        session = ChatSession.objects.create(
            token=token,
            widget=ctx.widget,
            visitor_id=ctx.visitor_id,
            customer=result.ticket.requester,
            ticket=result.ticket,
            team=ctx.widget.team,
            topic=topic,
        )
        _remember_identities(session, ctx, email)
        offer(session)
    return session, result.message


def visitor_message(
    ctx: VisitorContext, session: ChatSession, *, text: Any, client_id: Any
) -> tuple[Message, bool]:
    """A visitor's message; the same client id twice stores one message. Returns (message, dup)."""
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    external_id = f"chat:{session.token.hex}:{client_id}"
    duplicate = _stored_chat_message(external_id)
    if duplicate is not None:
        return duplicate, True
    if session.visitor_id != ctx.visitor_id or session.widget_id != ctx.widget.pk:
        raise NotFound("This chat does not exist.")
    if session.status == ChatStatus.ENDED:
        raise ValidationFailed("This chat has ended; start a new one.", code="chat_ended")
    _flood_check(ctx)
    result = tickets.ingest(
        tickets.InboundMessage(
            channel=Channel.CHAT,
            sender=_customer_sender(session),
            body_text=text,
            external_id=external_id,
            ticket_hint=session.ticket_id,
            metadata={"chat_session": session.token.hex, "client_id": client_id},
        )
    )
    return result.message, result.duplicate


# --- visitor lines, a batch at a time (group commit; see chat/writer.py) ---------------------


@dataclass(frozen=True)
class VisitorLine:
    """One line from a widget, its text and client id already checked (`visitor_line`)."""

    session_id: int
    session_token: str  # hex
    widget_id: int
    widget_key: str
    visitor_id: str
    text: str
    client_id: str

    @property
    def external_id(self) -> str:
        return f"chat:{self.session_token}:{self.client_id}"


@dataclass
class LineResult:
    """What a line's visitor is told: the stored message's id (the ack) or why it was refused."""

    message_id: int | None = None
    duplicate: bool = False
    error: DomainError | None = None


def visitor_line(
    ctx: VisitorContext, session: ChatSession, *, text: Any, client_id: Any
) -> VisitorLine:
    """Check a visitor's line before it joins a batch (no database): ValidationFailed if bad."""
    return VisitorLine(
        session_id=session.pk,
        session_token=session.token.hex,
        widget_id=ctx.widget.pk,
        widget_key=ctx.widget.key,
        visitor_id=ctx.visitor_id,
        text=_clean_text(text),
        client_id=_clean_client_id(client_id),
    )


def store_visitor_lines(
    lines: list[VisitorLine], *, committed: Callable[[list[LineResult]], None] | None = None
) -> list[LineResult]:
    """Store a batch of visitor lines in one transaction, with `visitor_message`'s rules for each:
    a client id already stored (or earlier in the batch) answers with the first message, a line
    for another visitor's or an ended chat is refused, the flood limit holds per visitor.

    After the commit, in this order: the new messages are sent to their chats (agent and widget),
    `committed(results)` is called (the writer acknowledges there), then the change is announced
    once for the batch (the change contract: SLA, triggers, live inboxes). If anything fails the
    whole batch rolls back, nothing is announced, `committed` is not called and the error is
    raised: the caller tells every visitor to send again. A line stored meanwhile by another
    process (the unique client id refuses the batch) makes the batch run once more."""
    try:
        return _store_visitor_lines(lines, committed)
    except IntegrityError:
        # Another process stored one of these client ids between our read and our insert: the
        # second run finds it and answers it as a duplicate.
        return _store_visitor_lines(lines, committed)


@transaction.atomic
def _store_visitor_lines(
    lines: list[VisitorLine], committed: Callable[[list[LineResult]], None] | None
) -> list[LineResult]:
    results = [LineResult() for _ in lines]
    deliveries: list[tuple[list[str], dict[str, Any]]] = []

    def after_commit() -> None:
        send_batch(deliveries)
        if committed is not None:
            committed(results)

    # Registered first so that it runs before the batch's announcement (registered later by
    # ticket services): the agent and the visitor do not wait for SLA, triggers and inboxes.
    transaction.on_commit(after_commit)
    stored = dict(
        tickets.messages_with_external_ids({line.external_id for line in lines}, [Channel.CHAT])
        .order_by()
        .values_list("external_id", "id")
    )
    sessions = {
        row[0]: row
        for row in ChatSession.objects.filter(pk__in={line.session_id for line in lines})
        .order_by()
        .values_list(
            "id", "status", "ticket_id", "customer_id", "visitor_id", "widget_id", "customer__name"
        )
    }
    first_of: dict[str, int] = {}  # external id -> the batch's first line with it
    repeats: list[tuple[int, int]] = []
    accepted: list[int] = []
    for i, line in enumerate(lines):
        external_id = line.external_id
        if external_id in stored:
            results[i] = LineResult(stored[external_id], duplicate=True)
            continue
        if external_id in first_of:
            repeats.append((i, first_of[external_id]))
            continue
        session = sessions.get(line.session_id)
        if session is None or (session[4], session[5]) != (line.visitor_id, line.widget_id):
            results[i].error = NotFound("This chat does not exist.")
            continue
        if session[1] == ChatStatus.ENDED:
            results[i].error = ValidationFailed(
                "This chat has ended; start a new one.", code="chat_ended"
            )
            continue
        first_of[external_id] = i
        accepted.append(i)
    # The flood limit, counted once a batch for each visitor in it (on the shared counters).
    attempts: dict[str, int] = {}
    for i in accepted:
        key = f"{lines[i].widget_key}:{lines[i].visitor_id}"
        attempts[key] = attempts.get(key, 0) + 1
    counts = count_attempts("chat", attempts, window_seconds=FLOOD_WINDOW_SECONDS)
    nth: dict[str, int] = {}  # lines of each visitor seen so far, in order
    allowed: list[int] = []
    for i in accepted:
        key = f"{lines[i].widget_key}:{lines[i].visitor_id}"
        nth[key] = nth.get(key, 0) + 1
        if counts[key] - attempts[key] + nth[key] > FLOOD_LIMIT:
            results[i].error = RateLimited(FLOOD_MESSAGE)
        else:
            allowed.append(i)
    accepted = allowed
    messages = tickets.add_customer_lines(
        [
            tickets.CustomerLine(
                ticket_id=sessions[lines[i].session_id][2],
                customer_id=sessions[lines[i].session_id][3],
                channel=Channel.CHAT,
                body_text=lines[i].text,
                external_id=lines[i].external_id,
                metadata={"chat_session": lines[i].session_token, "client_id": lines[i].client_id},
            )
            for i in accepted
        ]
    )
    for i, stored_line in zip(accepted, messages, strict=True):
        line = lines[i]
        if stored_line is None:  # a ticket in another state: the line goes the usual way
            try:
                results[i].message_id = _ingest_line(line).pk
            except DomainError as exc:
                results[i].error = exc
            continue
        deliveries.append(
            (
                [f"chat.{line.session_token}"],
                {
                    "type": "chat.message",
                    "session": line.session_token,
                    "message": _line_payload(line, stored_line, sessions[line.session_id][6]),
                },
            )
        )
        results[i].message_id = stored_line.message_id
    for i, first in repeats:
        results[i] = LineResult(
            results[first].message_id, duplicate=True, error=results[first].error
        )
    return results


def _line_payload(
    line: VisitorLine, stored: tickets.StoredLine, customer_name: str
) -> dict[str, Any]:
    """`message_payload` of a visitor's new text line, without reading anything back."""
    return {
        "id": stored.message_id,
        "from": "visitor",
        "author": customer_name or "Visitor",
        "text": stored.body_text,
        "at": stored.created_at.isoformat(),
        "client_id": line.client_id,
        "files": [],
    }


def _ingest_line(line: VisitorLine) -> Message:
    """A line on a ticket that is solved, pending, closed or merged: `tickets.ingest` reopens it,
    opens a follow-up or follows the merge, and delivers the line itself on commit."""
    session = ChatSession.objects.select_related("customer").get(pk=line.session_id)
    result = tickets.ingest(
        tickets.InboundMessage(
            channel=Channel.CHAT,
            sender=_customer_sender(session),
            body_text=line.text,
            external_id=line.external_id,
            ticket_hint=session.ticket_id,
            metadata={"chat_session": line.session_token, "client_id": line.client_id},
        )
    )
    return result.message


def _stored_chat_message(external_id: str) -> Message | None:
    return tickets.messages_with_external_ids([external_id], [Channel.CHAT]).first()


def _customer_sender(session: ChatSession) -> tickets.SenderIdentity:
    """The identity the session's customer is already known by (so ingest finds the same one)."""
    identity = session.customer.identities.order_by("id").first()
    if identity is None:
        raise NotFound("The chat's customer has no identity.")
    return tickets.SenderIdentity(identity.kind, identity.value, session.customer.name)


def visitor_upload(
    ctx: VisitorContext, session: ChatSession, *, filename: str, content_type: str, content: bytes
) -> Message:
    """A file from the widget: checked like every attachment, stored on a visitor message."""
    if session.visitor_id != ctx.visitor_id or session.widget_id != ctx.widget.pk:
        raise NotFound("This chat does not exist.")
    if session.status == ChatStatus.ENDED:
        raise ValidationFailed("This chat has ended; start a new one.", code="chat_ended")
    tickets.check_attachment(filename, len(content))
    _flood_check(ctx)
    result = tickets.ingest(
        tickets.InboundMessage(
            channel=Channel.CHAT,
            sender=_customer_sender(session),
            body_text=f"Sent a file: {filename}",
            ticket_hint=session.ticket_id,
            attachments=[tickets.InboundAttachment(filename, content_type, content)],
            metadata={"chat_session": session.token.hex},
        )
    )
    return result.message


def offline_request(
    ctx: VisitorContext, *, text: Any, email: Any, name: Any = "", client_id: Any = ""
) -> Ticket:
    """No agent is available: the visitor's message becomes a chat ticket (tagged chat-offline),
    answered by e-mail since no chat is open (`transport.ChatTransport`)."""
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    email = normalize_identity(IdentityKind.EMAIL, str(email or ""))
    _flood_check(ctx)
    result = tickets.ingest(
        tickets.InboundMessage(
            channel=Channel.CHAT,
            sender=tickets.SenderIdentity(
                IdentityKind.EMAIL, email, redact_cut(str(name or ""), MAX_NAME_CHARS)
            ),
            subject=redact_cut(text.splitlines()[0], 80),
            body_text=text,
            external_id=f"chat-offline:{ctx.visitor_id}:{client_id}",
            team=ctx.widget.team,
            tags=["chat-offline"],
            metadata={"chat_widget": ctx.widget.key},
        )
    )
    return result.ticket


# --- agents ---------------------------------------------------------------------------------


def access_session(agent: User, token: str, *, for_update: bool = False) -> ChatSession:
    """A chat the agent may work on: its own agent's, or one whose ticket the agent may see (the
    visibility rule of tickets.access: their team's, unrouted, not restricted unless a lead);
    NotFound or PermissionDenied otherwise."""
    try:
        token_uuid = uuid.UUID(str(token))
    except ValueError as exc:
        raise NotFound("This chat does not exist.") from exc
    qs = ChatSession.objects.select_related("customer__organization", "team", "agent", "ticket")
    if for_update:
        qs = qs.select_for_update(of=("self",))
    session = qs.filter(token=token_uuid).first()
    if session is None:
        raise NotFound("This chat does not exist.")
    if session.agent_id != agent.pk and not tickets.can_see(agent, session.ticket):
        raise PermissionDenied("This chat belongs to a team you are not in.")
    return session


@transaction.atomic
def accept(agent: User, token: str) -> ChatSession:
    session = access_session(agent, token, for_update=True)
    if session.status == ChatStatus.ENDED:
        raise Conflict("This chat has already ended.", code="chat_ended")
    if session.agent_id and session.agent_id != agent.pk:
        raise Conflict("Another agent already took this chat.", code="chat_taken")
    if session.agent_id == agent.pk:
        return session
    tickets.assign(agent, session.ticket, agent)
    ChatSession.objects.filter(pk=session.pk).update(
        agent=agent, status=ChatStatus.ACTIVE, accepted_at=timezone.now(), offered_to=None
    )
    session.refresh_from_db()
    _announce(session, "chat.joined", agent=agent.name)
    for group in _queue_groups(session.ticket):
        push(group, {"type": "chat.taken", "session": session.token.hex})
    return session


@transaction.atomic
def decline(agent: User, token: str) -> ChatSession:
    session = access_session(agent, token, for_update=True)
    if session.status != ChatStatus.WAITING:
        return session
    declined = sorted({*(session.declined_by or []), agent.pk})
    ChatSession.objects.filter(pk=session.pk).update(declined_by=declined, offered_to=None)
    offer(session)
    return session


def _check_working(agent: User, session: ChatSession) -> None:
    if session.status == ChatStatus.ENDED:
        raise ValidationFailed("This chat has ended.", code="chat_ended")
    if session.agent_id != agent.pk and not agent.is_lead:
        raise PermissionDenied("Accept the chat before writing in it.", code="not_your_chat")


def agent_message(agent: User, token: str, *, text: Any, client_id: Any) -> tuple[Message, bool]:
    session = access_session(agent, token)
    text = _clean_text(text)
    client_id = _clean_client_id(client_id)
    external_id = f"chat-agent:{session.token.hex}:{client_id}"
    duplicate = _stored_chat_message(external_id)
    if duplicate is not None:
        return duplicate, True
    _check_working(agent, session)
    with transaction.atomic():
        message = tickets.post_message(agent, session.ticket, body_text=text)
        Message.objects.filter(pk=message.pk).update(external_id=external_id)
    return message, False


def typing(session: ChatSession, *, side: str, state: bool, name: str = "") -> None:
    from caredesk.core.realtime import send_now

    send_now(
        session.group,
        {
            "type": "chat.typing",
            "session": session.token.hex,
            "side": side,
            "state": bool(state),
            "name": name,
        },
    )


def mark_read(session: ChatSession, *, side: str, up_to: Any) -> None:
    """Read receipts: the highest message id the visitor (or agent) has seen."""
    if not isinstance(up_to, int) or up_to < 0:
        raise ValidationFailed("up_to is a message id.")
    field = "visitor_read_upto" if side == "visitor" else "agent_read_upto"
    updated = ChatSession.objects.filter(pk=session.pk, **{f"{field}__lt": up_to}).update(
        **{field: up_to}
    )
    if updated:
        from caredesk.core.realtime import send_now

        send_now(
            session.group,
            {"type": "chat.read", "session": session.token.hex, "side": side, "up_to": up_to},
        )


@transaction.atomic
def transfer(
    agent: User,
    token: str,
    *,
    to_agent: User | None = None,
    to_team: Team | None = None,
    note: str = "",
) -> ChatSession:
    """Hand a chat to another agent or team, with an internal note saying why."""
    session = access_session(agent, token, for_update=True)
    _check_working(agent, session)
    if to_agent is None and to_team is None:
        raise ValidationFailed("Choose an agent or a team to transfer to.", code="no_target")
    team = to_team or session.team
    if to_agent is not None:
        if not to_agent.is_active:
            raise ValidationFailed(f"{to_agent.name} is not active.", code="inactive_agent")
        if team is not None and team.pk not in to_agent.team_ids():
            raise ValidationFailed(
                f"{to_agent.name} is not in {team.name}.", code="agent_not_in_team"
            )
        if not may_see(
            Viewer.of(to_agent),
            team_id=team.pk if team else None,
            assignee_id=None,
            restricted=session.ticket.restricted,
        ):
            raise ValidationFailed(
                f"{to_agent.name} may not see this restricted chat.", code="agent_may_not_see"
            )
    if not (note or "").strip():
        note = "Chat transferred."
    target = to_agent.name if to_agent else (team.name if team else "")
    tickets.post_message(agent, session.ticket, body_text=f"{note} → {target}", internal=True)
    changes: dict[str, Any] = {"assignee": None}
    if team is not None and team.pk != session.ticket.team_id:
        changes["team"] = team
    tickets.update_ticket(agent, session.ticket, changes)
    ChatSession.objects.filter(pk=session.pk).update(
        agent=None, status=ChatStatus.WAITING, team=team, declined_by=[], offered_to=None
    )
    session.refresh_from_db()
    _announce(session, "chat.transferred", to=target)
    if to_agent is not None:
        ChatSession.objects.filter(pk=session.pk).update(
            offered_to=to_agent, offered_at=timezone.now()
        )
        push(
            f"agent.{to_agent.pk}",
            {"type": "chat.offer", **_session_payload(session), "offered": True, "note": note},
        )
    else:
        offer(session)
    return session


@transaction.atomic
def end_chat(session: ChatSession, *, by: str, agent: User | None = None) -> ChatSession:
    """End the conversation; the ticket keeps the full transcript and is solved."""
    session = ChatSession.objects.select_for_update().get(pk=session.pk)
    if session.status == ChatStatus.ENDED:
        return session
    if agent is not None:
        _check_working(agent, session)
    actor = tickets.as_actor(agent) if agent else tickets.Actor.system("chat")
    ChatSession.objects.filter(pk=session.pk).update(
        status=ChatStatus.ENDED, ended_at=timezone.now(), ended_by=by
    )
    session.refresh_from_db()
    ticket = Ticket.objects.get(pk=session.ticket_id)
    tickets.record_event(
        ticket, EventKind.FIELD_CHANGED, actor, field="chat", old="live", new="ended"
    )
    if ticket.status in (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD):
        tickets.change_status(actor, ticket, Status.SOLVED)
    if session.transcript_email:
        jobs.enqueue(
            "chat.transcript", {"session": session.pk}, dedupe_key=f"chat.transcript:{session.pk}"
        )
    _announce(session, "chat.ended", by=by)
    return session


def request_transcript(session: ChatSession, email: Any) -> None:
    address = normalize_identity(IdentityKind.EMAIL, str(email or ""))
    ChatSession.objects.filter(pk=session.pk).update(transcript_email=address)
    session.transcript_email = address
    if session.status == ChatStatus.ENDED:
        jobs.enqueue(
            "chat.transcript", {"session": session.pk}, dedupe_key=f"chat.transcript:{session.pk}"
        )


def transcript_text(session: ChatSession) -> str:
    lines = [f"Chat transcript — {session.ticket.subject} (request #{session.ticket_id})", ""]
    for message in public_messages(session):
        lines.append(
            f"[{message['at'][:16].replace('T', ' ')}] {message['author']}: {message['text']}"
        )
    return "\n".join(lines)


@jobs.job_handler("chat.transcript")
def send_transcript(payload: dict[str, Any]) -> None:
    session = ChatSession.objects.select_related("ticket").get(pk=payload["session"])
    if not session.transcript_email:
        return
    from caredesk.channels.email.transport import queue_mail

    # Through the outbox like every mail: the sink in the demo, retries, one send.
    queue_mail(
        "chat_transcript",
        session.transcript_email,
        f"Your chat transcript [#{session.ticket_id}]",
        transcript_text(session),
        ticket=session.ticket,
    )


def _announce(session: ChatSession, kind: str, **data: Any) -> None:
    push(session.group, {"type": kind, "session": session.token.hex, **data})


# --- what the widget and the agent column show ----------------------------------------------


def message_payload(message: Message) -> dict[str, Any]:
    if message.author_kind == AuthorKind.AGENT and message.author_agent_id:
        author = message.author_agent.name if message.author_agent else "Agent"
    elif message.author_kind == AuthorKind.CUSTOMER:
        author = (message.author_customer.name if message.author_customer else "") or "Visitor"
    else:
        author = message.get_author_kind_display()
    return {
        "id": message.pk,
        "from": "visitor" if message.author_kind == AuthorKind.CUSTOMER else "agent",
        "author": author,
        "text": message.body_text,
        "at": message.created_at.isoformat(),
        "client_id": (message.metadata or {}).get("client_id")
        or (
            message.external_id.rsplit(":", 1)[-1] if message.external_id.startswith("chat") else ""
        ),
        "files": [{"name": a.filename} for a in message.attachments.all()],
    }


def public_messages(session: ChatSession, *, after_id: int = 0) -> list[dict[str, Any]]:
    qs = (
        Message.objects.filter(ticket_id=session.ticket_id, internal=False, pk__gt=after_id)
        .select_related("author_agent", "author_customer")
        .prefetch_related("attachments")
        .order_by("id")
    )
    return [message_payload(m) for m in qs[:500]]


def earlier_requests(session: ChatSession) -> int:
    """How many other tickets (any channel) this chat's customer has: the sidebar's history."""
    return (
        Ticket.objects.filter(requester_id=session.customer_id)
        .exclude(pk=session.ticket_id)
        .count()
    )


def column(agent: User, session: ChatSession) -> dict[str, Any]:
    """What one chat column on the agent's desk shows: history, sidebar facts, the agent's and
    shared canned responses with this customer's placeholders filled."""
    from django.db.models import Q

    from caredesk.automation.models import CannedResponse
    from caredesk.automation.services import render

    snippets = CannedResponse.objects.filter(Q(owner=agent) | Q(owner__isnull=True))
    return {
        "session": session,
        "previous": earlier_requests(session),
        "messages": public_messages(session),
        "snippets": [
            {"title": c.title, "text": render(c.body, session.ticket, agent)} for c in snippets
        ],
    }


def active_sessions_for(agent: User) -> list[ChatSession]:
    return list(
        ChatSession.objects.select_related("customer__organization", "ticket", "team")
        .filter(agent=agent, status=ChatStatus.ACTIVE)
        .order_by("accepted_at")
    )


def waiting_sessions_for(agent: User) -> list[ChatSession]:
    # The chats whose ticket the agent may see (the visibility rule), as the queue's pushes.
    qs = ChatSession.objects.select_related("customer", "ticket", "team").filter(
        status=ChatStatus.WAITING,
        ticket__in=tickets.visible_tickets(agent, follows=False).values("pk"),
    )
    return list(qs.order_by("started_at")[:50])


def set_presence(agent: User, presence: str) -> None:
    """Online / away / offline. Going online picks up waiting chats; going offline hands on offers."""
    if presence not in Presence.values:
        raise ValidationFailed("Presence is online, away or offline.", code="bad_presence")
    seen = timezone.now()
    User.objects.filter(pk=agent.pk).update(presence=presence, presence_seen_at=seen)
    agent.presence = presence
    agent.presence_seen_at = seen
    if presence == Presence.ONLINE:
        for session in ChatSession.objects.filter(
            status=ChatStatus.WAITING, offered_to__isnull=True, team_id__in=agent.team_ids()
        )[:50]:
            offer(session)
    else:
        for session in ChatSession.objects.filter(status=ChatStatus.WAITING, offered_to=agent):
            ChatSession.objects.filter(pk=session.pk).update(
                declined_by=sorted({*(session.declined_by or []), agent.pk}), offered_to=None
            )
            offer(session)


def presence_heartbeat(agent: User) -> None:
    """An open workspace of this agent is still connected: their presence stays as they set it."""
    User.objects.filter(pk=agent.pk).update(presence_seen_at=timezone.now())


# After an agent's last workspace tab closes, their presence lapses this soon (not after the
# whole grace period): a reload reconnects at once and its heartbeat restamps it, and other open
# tabs beat every 30 seconds, well inside this window.
CLOSED_WORKSPACE_SECONDS = 45


def workspace_closed(agent: User, now: Any = None) -> None:
    """A workspace socket of this agent closed: unless another tab (or a reload) gives a sign
    within CLOSED_WORKSPACE_SECONDS, the next lapse_presence sweep takes them offline."""
    now = now or timezone.now()
    lapse_at = now - timedelta(
        seconds=max(0, settings.CAREDESK_PRESENCE_GRACE_SECONDS - CLOSED_WORKSPACE_SECONDS)
    )
    User.objects.filter(
        pk=agent.pk,
        presence__in=[Presence.ONLINE, Presence.AWAY],
        presence_seen_at__gt=lapse_at,
    ).update(presence_seen_at=lapse_at)


def unstaffed_waiting_chats(agent: User) -> int:
    """Chats waiting in the agent's teams (every team for admins) with nobody online to take
    them: the workspace header asks the agent to go online."""
    online = User.objects.filter(is_active=True, presence=Presence.ONLINE)
    qs = ChatSession.objects.filter(status=ChatStatus.WAITING)
    if not agent.is_admin:
        qs = qs.filter(team_id__in=agent.team_ids())
    return (
        qs.annotate(
            team_staffed=Exists(online.filter(teams=OuterRef("team_id"))),
            anyone_online=Exists(online),
        )
        .filter(
            Q(team__isnull=False, team_staffed=False) | Q(team__isnull=True, anyone_online=False)
        )
        .count()
    )


def lapse_presence(now: Any = None) -> int:
    """Agents shown online or away whose workspace has given no sign for the grace period (every
    tab closed, the browser or the network gone, a server process lost) go offline: their pending
    chat offers move on, and routing's periodic pass releases what they were just handed."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.CAREDESK_PRESENCE_GRACE_SECONDS)
    lapsed = list(
        User.objects.filter(
            presence__in=[Presence.ONLINE, Presence.AWAY], presence_seen_at__lt=cutoff
        )
    )
    for agent in lapsed:
        with transaction.atomic():
            set_presence(agent, Presence.OFFLINE)
        logger.info("presence of %s lapsed to offline (no open workspace)", agent.email)
    return len(lapsed)


# --- every message on a chat ticket reaches the widget --------------------------------------


def deliver_changes(changes: list[TicketChange]) -> None:
    """The change contract's receiver for the widget: the public messages added to a chat
    ticket reach the visitor's session (chat lines the session sent itself are not echoed)."""
    for change in changes:
        if change.channel != Channel.CHAT or change.delivered_live:
            continue
        public_message_ids = change.public_message_ids
        if public_message_ids:
            _deliver_to_widget(change.ticket_id, public_message_ids)


def _deliver_to_widget(ticket_id: int, public_message_ids: list[int]) -> None:
    token = ChatSession.objects.filter(ticket_id=ticket_id).values_list("token", flat=True).first()
    if token is None:
        return
    from caredesk.core.realtime import send_now

    for message in (
        Message.objects.filter(pk__in=public_message_ids)
        .select_related("author_agent", "author_customer")
        .prefetch_related("attachments")
    ):
        send_now(
            f"chat.{token.hex}",
            {"type": "chat.message", "session": token.hex, "message": message_payload(message)},
        )
