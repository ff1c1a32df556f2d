"""API shapes for tickets, messages and events (pydantic via django-ninja)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Field, Schema
from pydantic import field_validator, model_validator

from caredesk.core.api_types import omittable
from caredesk.tickets.models import Priority, Ticket

StatusName = Literal["new", "open", "pending", "on_hold", "solved", "closed"]
PriorityName = Literal["low", "normal", "high", "urgent"]
ChannelName = Literal[
    "email", "chat", "phone", "sms", "whatsapp", "messenger", "telegram", "web", "api"
]


class RequesterIn(Schema):
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    name: str = Field("", max_length=200)

    @model_validator(mode="after")
    def one_identity(self) -> RequesterIn:
        if not self.email and not self.phone:
            raise ValueError("requester needs an email or a phone")
        return self


class MessageIn(Schema):
    body: str = Field("", max_length=1_000_000)
    html: str | None = Field(None, max_length=1_000_000)


class TicketCreate(Schema):
    subject: str = Field(..., min_length=1, max_length=255)
    requester: RequesterIn
    message: MessageIn
    channel: ChannelName = "api"
    priority: PriorityName = "normal"
    team: int | None = None
    assignee: int | None = None
    tags: list[str] = Field(default_factory=list, max_length=50)
    custom_fields: dict[str, Any] = Field(default_factory=dict)
    category: str = Field("", max_length=100)
    language: str = Field("", max_length=10)

    @field_validator("tags")
    @classmethod
    def short_tags(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not isinstance(tag, str) or not tag.strip() or len(tag) > 64:
                raise ValueError("each tag is 1 to 64 characters")
        return tags


class TicketPatch(Schema):
    version: int | None = Field(None, description="The version you edited; a newer one answers 409")
    subject: str | None = Field(None, min_length=1, max_length=255)
    status: StatusName | None = None
    priority: PriorityName | None = None
    team: int | None = None
    assignee: int | None = None
    tags: list[str] | None = Field(None, max_length=50)
    custom_fields: dict[str, Any] | None = None
    category: str | None = Field(None, max_length=100)
    language: str | None = Field(None, max_length=10)
    restricted: bool | None = None


class PersonRef(Schema):
    id: int
    name: str


class CustomerRef(Schema):
    id: int
    name: str
    email: str
    phone: str


class TicketOut(Schema):
    id: int
    number: int
    subject: str
    status: StatusName
    priority: PriorityName
    channel: ChannelName
    requester: CustomerRef
    organization_id: int | None
    team: PersonRef | None
    assignee: PersonRef | None
    tags: list[str]
    custom_fields: dict[str, Any]
    category: str
    language: str
    restricted: bool
    merged_into_id: int | None
    version: int
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    solved_at: datetime | None

    @staticmethod
    def resolve_priority(obj: Ticket) -> str:
        return Priority(obj.priority).label

    @staticmethod
    def resolve_number(obj: Ticket) -> int:
        return obj.pk

    @staticmethod
    def resolve_requester(obj: Ticket) -> dict[str, Any]:
        r = obj.requester
        return {"id": r.pk, "name": r.name, "email": r.email, "phone": r.phone}

    @staticmethod
    def resolve_team(obj: Ticket) -> dict[str, Any] | None:
        return {"id": obj.team.pk, "name": obj.team.name} if obj.team_id and obj.team else None

    @staticmethod
    def resolve_assignee(obj: Ticket) -> dict[str, Any] | None:
        return (
            {"id": obj.assignee.pk, "name": obj.assignee.name}
            if obj.assignee_id and obj.assignee
            else None
        )

    @staticmethod
    def resolve_tags(obj: Ticket) -> list[str]:
        known = getattr(obj, "tag_names", None)
        return known if known is not None else sorted(t.name for t in obj.tags.all())


class TicketPage(Schema):
    items: list[TicketOut]
    next: str | None


class AttachmentOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    inline: bool
    url: str

    @staticmethod
    def resolve_url(obj: Any) -> str:
        return f"/api/v1/attachments/{obj.pk}"


class MessageOut(Schema):
    id: int
    ticket_id: int
    author_kind: Literal["customer", "agent", "bot", "system"]
    author_agent_id: int | None
    author_customer_id: int | None
    internal: bool
    body_text: str
    body_html: str
    channel: str
    delivery_status: str
    delivery_error: str
    created_at: datetime
    attachments: list[AttachmentOut]

    @staticmethod
    def resolve_attachments(obj: Any) -> list[Any]:
        return list(obj.attachments.all())


class MessagePage(Schema):
    items: list[MessageOut]
    next: str | None


class MessageCreate(Schema):
    body: str = Field("", max_length=1_000_000)
    html: str | None = Field(None, max_length=1_000_000)
    internal: bool = False
    status: StatusName | None = Field(
        None, description="Status to set with the reply, e.g. pending or solved"
    )


class MergeIn(Schema):
    into: int


class SplitIn(Schema):
    message_ids: list[int] = Field(..., min_length=1, max_length=500)
    subject: str = Field("", max_length=255)


class LinkIn(Schema):
    target: int
    kind: Literal["related", "duplicate", "follow_up", "split_from"] = "related"


class LinkOut(Schema):
    source_id: int
    target_id: int
    kind: str


class FollowerIn(Schema):
    agent: int


class EventOut(Schema):
    id: int
    ticket_id: int
    kind: str
    actor_kind: str
    actor_agent_id: int | None
    actor_customer_id: int | None
    data: dict[str, Any]
    created_at: datetime


class EventPage(Schema):
    items: list[EventOut]
    next: str | None


class TagOut(Schema):
    id: int
    name: str


class CustomFieldIn(Schema):
    key: str = Field(..., min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$")
    label: str = Field(..., min_length=1, max_length=100)
    field_type: Literal["text", "number", "boolean", "date", "choice"] = "text"
    choices: list[str] = Field(default_factory=list, max_length=200)
    required: bool = False
    active: bool = True
    position: int = Field(0, ge=0, le=1000)


class CustomFieldPatch(Schema):
    label: str = omittable(min_length=1, max_length=100)
    choices: list[str] = omittable(max_length=200)
    required: bool = omittable()
    active: bool = omittable()
    position: int = omittable(ge=0, le=1000)


class CustomFieldOut(Schema):
    id: int
    key: str
    label: str
    field_type: str
    choices: list[str]
    required: bool
    active: bool
    position: int
