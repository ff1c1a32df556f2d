"""REST endpoints for tickets, their messages, events, links and followers (thin: parse, call
services, shape the answer). Loading always goes through access_ticket (404 outside the scope).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, QuerySet
from django.http import FileResponse, HttpRequest
from ninja import File, Form, Query, Router, Schema
from ninja.files import UploadedFile

from caredesk.accounts.api_auth import require_admin
from caredesk.accounts.models import Team, User
from caredesk.core.errors import NotFound, PayloadTooLarge, ValidationFailed
from caredesk.core.pagination import PageLimit, paginate
from caredesk.customers.models import IdentityKind
from caredesk.customers.services import find_or_create_customer
from caredesk.tickets import services
from caredesk.tickets.models import (
    PRIORITY_BY_NAME,
    Attachment,
    CustomField,
    Message,
    Tag,
    Ticket,
)
from caredesk.tickets.schemas import (
    CustomFieldIn,
    CustomFieldOut,
    CustomFieldPatch,
    EventPage,
    FollowerIn,
    LinkIn,
    LinkOut,
    MergeIn,
    MessageCreate,
    MessageOut,
    MessagePage,
    SplitIn,
    TagOut,
    TicketCreate,
    TicketOut,
    TicketPage,
    TicketPatch,
)

router = Router(tags=["tickets"])
attachments_router = Router(tags=["tickets"])
catalog_router = Router(tags=["tags and fields"])

SortName = Literal[
    "updated_at", "-updated_at", "created_at", "-created_at", "priority", "-priority"
]
SORTS = set(get_args(SortName))


def _team(team_id: int | None) -> Team | None:
    if team_id is None:
        return None
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise ValidationFailed(f"Team {team_id} does not exist.", code="unknown_team")
    return team


def _agent(agent_id: int | None) -> User | None:
    if agent_id is None:
        return None
    agent = User.objects.filter(pk=agent_id, is_active=True).first()
    if agent is None:
        raise ValidationFailed(f"Agent {agent_id} does not exist.", code="unknown_agent")
    return agent


def ticket_queryset(qs: QuerySet[Ticket]) -> QuerySet[Ticket]:
    """Everything TicketOut reads, in a fixed number of queries."""
    return qs.select_related("requester", "team", "assignee").prefetch_related("tags")


def _load(request: HttpRequest, ticket_id: int) -> Ticket:
    return services.access_ticket(request.user, ticket_id)  # type: ignore[arg-type]


def _reload(ticket_id: int) -> Ticket:
    return ticket_queryset(Ticket.objects.filter(pk=ticket_id)).get()


class TicketFilters(Schema):
    status: str | None = None
    priority: str | None = None
    channel: str | None = None
    team: int | None = None
    assignee: str | None = None
    requester: int | None = None
    organization: int | None = None
    tag: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    sort: SortName = "-updated_at"
    cursor: str | None = None
    limit: PageLimit = 25


def _filter(qs: QuerySet[Ticket], f: TicketFilters, me: User) -> QuerySet[Ticket]:
    if f.status:
        qs = qs.filter(status__in=f.status.split(","))
    if f.priority:
        values = [PRIORITY_BY_NAME.get(p) for p in f.priority.split(",")]
        if None in values:
            raise ValidationFailed(
                "priority must be low, normal, high or urgent.", code="bad_priority"
            )
        qs = qs.filter(priority__in=values)
    if f.channel:
        qs = qs.filter(channel__in=f.channel.split(","))
    if f.team is not None:
        qs = qs.filter(team_id=f.team)
    if f.assignee:
        if f.assignee == "me":
            qs = qs.filter(assignee_id=me.pk)
        elif f.assignee == "none":
            qs = qs.filter(assignee__isnull=True)
        elif f.assignee.isdigit():
            qs = qs.filter(assignee_id=int(f.assignee))
        else:
            raise ValidationFailed("assignee is an agent id, 'me' or 'none'.", code="bad_assignee")
    if f.requester is not None:
        qs = qs.filter(requester_id=f.requester)
    if f.organization is not None:
        qs = qs.filter(organization_id=f.organization)
    if f.tag:
        qs = qs.filter(tags__name=f.tag.strip().lower())
    for field, op, value in (
        ("created_at", "gte", f.created_after),
        ("created_at", "lt", f.created_before),
        ("updated_at", "gte", f.updated_after),
        ("updated_at", "lt", f.updated_before),
    ):
        if value is not None:
            qs = qs.filter(**{f"{field}__{op}": value})
    return qs


@router.get("", response=TicketPage)
def list_tickets(request: HttpRequest, filters: Query[TicketFilters]) -> dict[str, Any]:
    """Tickets you may see, filtered and sorted, one cursor page at a time."""
    if filters.sort not in SORTS:
        raise ValidationFailed(f"sort must be one of {', '.join(sorted(SORTS))}.", code="bad_sort")
    me: User = request.user  # type: ignore[assignment]
    qs = _filter(services.visible_tickets(me), filters, me)
    page = paginate(
        ticket_queryset(qs), order=filters.sort, cursor=filters.cursor, limit=filters.limit
    )
    return {"items": page.items, "next": page.next}


@router.post("", response={201: TicketOut})
def create_ticket(request: HttpRequest, payload: TicketCreate) -> tuple[int, Ticket]:
    """Open a ticket for a requester (found or created by email or phone) with its first message."""
    # One transaction for customer and ticket: one write lock on SQLite instead of two.
    with transaction.atomic():
        return _create_ticket(request, payload)


def _create_ticket(request: HttpRequest, payload: TicketCreate) -> tuple[int, Ticket]:
    if payload.requester.email:
        requester, _ = find_or_create_customer(
            IdentityKind.EMAIL, payload.requester.email, name=payload.requester.name
        )
    else:
        requester, _ = find_or_create_customer(
            IdentityKind.PHONE, payload.requester.phone or "", name=payload.requester.name
        )
    if not payload.message.body.strip() and not (payload.message.html or "").strip():
        raise ValidationFailed("message.body or message.html is required.", code="empty_message")
    ticket = services.create_ticket(
        request.user,  # type: ignore[arg-type]
        subject=payload.subject,
        requester=requester,
        body_text=payload.message.body,
        body_html=payload.message.html or "",
        channel=payload.channel,
        priority=PRIORITY_BY_NAME[payload.priority],
        team=_team(payload.team),
        assignee=_agent(payload.assignee),
        tags=payload.tags,
        custom_fields=payload.custom_fields,
        category=payload.category,
        language=payload.language,
    )
    # The service's ticket already carries everything the answer shows: no re-read.
    ticket.tag_names = sorted({t.strip().lower()[:64] for t in payload.tags if t.strip()})  # type: ignore[attr-defined]
    return 201, ticket


@router.get("/{ticket_id}", response=TicketOut)
def get_ticket(request: HttpRequest, ticket_id: int) -> Ticket:
    return _reload(_load(request, ticket_id).pk)


@router.patch("/{ticket_id}", response=TicketOut)
def update_ticket(request: HttpRequest, ticket_id: int, payload: TicketPatch) -> Ticket:
    """Change fields; send `version` to be told (409) when someone else changed the ticket first."""
    ticket = _load(request, ticket_id)
    data = payload.dict(exclude_unset=True)
    version = data.pop("version", None)
    if "team" in data:
        data["team"] = _team(data["team"])
    if "assignee" in data:
        data["assignee"] = _agent(data["assignee"])
    services.update_ticket(request.user, ticket, data, expected_version=version)  # type: ignore[arg-type]
    return _reload(ticket.pk)


@router.post("/{ticket_id}/merge", response=TicketOut)
def merge_ticket(request: HttpRequest, ticket_id: int, payload: MergeIn) -> Ticket:
    """Merge this ticket into `into`; answers the target ticket."""
    source = _load(request, ticket_id)
    target = _load(request, payload.into)
    services.merge(request.user, source, target)  # type: ignore[arg-type]
    return _reload(target.pk)


@router.post("/{ticket_id}/split", response={201: TicketOut})
def split_ticket(request: HttpRequest, ticket_id: int, payload: SplitIn) -> tuple[int, Ticket]:
    ticket = _load(request, ticket_id)
    new = services.split(request.user, ticket, payload.message_ids, subject=payload.subject)  # type: ignore[arg-type]
    return 201, _reload(new.pk)


@router.post("/{ticket_id}/links", response={201: LinkOut})
def link_ticket(request: HttpRequest, ticket_id: int, payload: LinkIn) -> tuple[int, Any]:
    source = _load(request, ticket_id)
    target = _load(request, payload.target)
    return 201, services.link(request.user, source, target, payload.kind)  # type: ignore[arg-type]


@router.post("/{ticket_id}/followers", response={204: None})
def add_follower(request: HttpRequest, ticket_id: int, payload: FollowerIn) -> tuple[int, None]:
    ticket = _load(request, ticket_id)
    agent = _agent(payload.agent)
    assert agent is not None
    services.set_following(request.user, ticket, agent, True)  # type: ignore[arg-type]
    return 204, None


@router.delete("/{ticket_id}/followers/{agent_id}", response={204: None})
def remove_follower(request: HttpRequest, ticket_id: int, agent_id: int) -> tuple[int, None]:
    ticket = _load(request, ticket_id)
    agent = _agent(agent_id)
    assert agent is not None
    services.set_following(request.user, ticket, agent, False)  # type: ignore[arg-type]
    return 204, None


@router.get("/{ticket_id}/messages", response=MessagePage)
def list_messages(
    request: HttpRequest, ticket_id: int, cursor: str | None = None, limit: PageLimit = 50
) -> dict[str, Any]:
    ticket = _load(request, ticket_id)
    qs = Message.objects.filter(ticket=ticket).prefetch_related(Prefetch("attachments"))
    page = paginate(qs, order="created_at", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@router.post("/{ticket_id}/messages", response={201: MessageOut})
def post_message(
    request: HttpRequest, ticket_id: int, payload: MessageCreate
) -> tuple[int, Message]:
    """A public reply (sent through the ticket's channel) or, with internal=true, a note."""
    ticket = _load(request, ticket_id)
    message = services.post_message(
        request.user,  # type: ignore[arg-type]
        ticket,
        body_text=payload.body,
        body_html=payload.html or "",
        internal=payload.internal,
        status_after=payload.status,
    )
    return 201, message


def _read_upload(upload: UploadedFile) -> services.InboundAttachment:
    limit = settings.CAREDESK_MAX_ATTACHMENT_BYTES
    if upload.size is not None and upload.size > limit:
        raise PayloadTooLarge(
            f"{upload.name} is larger than the {limit // (1024 * 1024)} MB attachment limit.",
            code="attachment_too_large",
        )
    return services.InboundAttachment(
        filename=upload.name or "attachment",
        content_type=upload.content_type or "",
        content=upload.read(),
    )


@router.post("/{ticket_id}/messages/upload", response={201: MessageOut})
def post_message_with_files(
    request: HttpRequest,
    ticket_id: int,
    body: Form[str] = "",
    internal: Form[bool] = False,
    files: File[list[UploadedFile]] = None,  # type: ignore[assignment]
) -> tuple[int, Message]:
    """The same as POST messages, as multipart/form-data with attachments (`files`)."""
    ticket = _load(request, ticket_id)
    uploads = [_read_upload(f) for f in (files or [])]
    message = services.post_message(
        request.user,  # type: ignore[arg-type]
        ticket,
        body_text=body,
        internal=internal,
        attachments=uploads,
    )
    return 201, message


@router.get("/{ticket_id}/events", response=EventPage)
def list_events(
    request: HttpRequest, ticket_id: int, cursor: str | None = None, limit: PageLimit = 100
) -> dict[str, Any]:
    ticket = _load(request, ticket_id)
    page = paginate(ticket.events.all(), order="id", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@attachments_router.get("/{attachment_id}", response={200: None})
def download_attachment(request: HttpRequest, attachment_id: int) -> FileResponse:
    attachment = Attachment.objects.select_related("message").filter(pk=attachment_id).first()
    if attachment is None or attachment.message is None:
        raise NotFound(f"Attachment {attachment_id} does not exist.")
    _load(request, attachment.message.ticket_id)
    response = FileResponse(
        attachment.file.open("rb"),
        as_attachment=not attachment.inline,
        filename=attachment.filename,
    )
    response["Content-Type"] = attachment.content_type
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- tags and custom fields -----------------------------------------------------------------


@catalog_router.get("/tags", response=list[TagOut])
def list_tags(request: HttpRequest, q: str = "", limit: int = 100) -> QuerySet[Tag]:
    qs = Tag.objects.all()
    if q:
        qs = qs.filter(name__startswith=q.strip().lower())
    return qs.order_by("name")[: max(1, min(limit, 500))]


@catalog_router.get("/custom-fields", response=list[CustomFieldOut])
def list_custom_fields(request: HttpRequest) -> QuerySet[CustomField]:
    return CustomField.objects.all()


@catalog_router.post("/custom-fields", response={201: CustomFieldOut})
def create_custom_field(request: HttpRequest, payload: CustomFieldIn) -> tuple[int, CustomField]:
    require_admin(request)
    if CustomField.objects.filter(key=payload.key).exists():
        from caredesk.core.errors import Conflict

        raise Conflict(f"A custom field with key {payload.key!r} exists.")
    if payload.field_type == "choice" and not payload.choices:
        raise ValidationFailed("A choice field needs choices.", code="no_choices")
    return 201, CustomField.objects.create(**payload.dict())


@catalog_router.patch("/custom-fields/{field_id}", response=CustomFieldOut)
def update_custom_field(
    request: HttpRequest, field_id: int, payload: CustomFieldPatch
) -> CustomField:
    require_admin(request)
    field = CustomField.objects.filter(pk=field_id).first()
    if field is None:
        raise NotFound(f"Custom field {field_id} does not exist.")
    for key, value in payload.dict(exclude_unset=True).items():
        setattr(field, key, value)
    field.save()
    return field


@catalog_router.delete("/custom-fields/{field_id}", response={204: None})
def delete_custom_field(request: HttpRequest, field_id: int) -> tuple[int, None]:
    """Deactivates the field (values on tickets are kept)."""
    require_admin(request)
    updated = CustomField.objects.filter(pk=field_id).update(active=False)
    if not updated:
        raise NotFound(f"Custom field {field_id} does not exist.")
    return 204, None
