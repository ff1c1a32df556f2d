"""REST endpoints for customers (CRM) and organizations."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema

from caredesk.core.api_types import omittable
from caredesk.core.errors import NotFound, ValidationFailed
from caredesk.core.pagination import PageLimit, paginate
from caredesk.customers import services
from caredesk.customers.models import Customer, Identity, Organization

router = Router(tags=["customers"])
organizations_router = Router(tags=["organizations"])

IdentityKindName = Literal[
    "email", "phone", "chat", "twitter", "facebook", "whatsapp", "telegram", "external"
]


class IdentityIn(Schema):
    kind: IdentityKindName
    value: str = Field(..., min_length=1, max_length=320)


class IdentityOut(Schema):
    id: int
    kind: str
    value: str
    verified: bool


class CustomerIn(Schema):
    name: str = Field("", max_length=200)
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=32)
    identities: list[IdentityIn] = Field(default_factory=list, max_length=50)
    organization: int | None = None
    language: str = Field("", max_length=10)
    vip: bool = False
    notes: str = Field("", max_length=20_000)
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class CustomerPatch(Schema):
    name: str = omittable(max_length=200)
    organization: int | None = Field(None, description="null detaches the customer")
    language: str = omittable(max_length=10)
    vip: bool = omittable()
    notes: str = omittable(max_length=20_000)
    custom_fields: dict[str, Any] = omittable()


class CustomerOut(Schema):
    id: int
    name: str
    email: str
    phone: str
    organization_id: int | None
    language: str
    vip: bool
    notes: str
    custom_fields: dict[str, Any]
    created_at: datetime
    identities: list[IdentityOut]

    @staticmethod
    def resolve_identities(obj: Customer) -> list[Identity]:
        return list(obj.identities.all())


class CustomerPage(Schema):
    items: list[CustomerOut]
    next: str | None


class TimelineItem(Schema):
    at: datetime
    ticket_id: int
    subject: str
    channel: str
    author_kind: str
    internal: bool
    excerpt: str


class OrganizationIn(Schema):
    name: str = Field(..., min_length=1, max_length=200)
    domain: str = Field("", max_length=200)
    notes: str = Field("", max_length=20_000)
    shared_tickets: bool = False
    custom_fields: dict[str, Any] = Field(default_factory=dict)


class OrganizationPatch(Schema):
    name: str = omittable(min_length=1, max_length=200)
    domain: str = omittable(max_length=200)
    notes: str = omittable(max_length=20_000)
    shared_tickets: bool = omittable()
    custom_fields: dict[str, Any] = omittable()


class OrganizationOut(Schema):
    id: int
    name: str
    domain: str
    notes: str
    shared_tickets: bool
    custom_fields: dict[str, Any]
    created_at: datetime


class OrganizationPage(Schema):
    items: list[OrganizationOut]
    next: str | None


def _organization(org_id: int | None) -> Organization | None:
    if org_id is None:
        return None
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        raise ValidationFailed(
            f"Organization {org_id} does not exist.", code="unknown_organization"
        )
    return org


def _customers() -> QuerySet[Customer]:
    return Customer.objects.prefetch_related("identities")


@router.get("", response=CustomerPage)
def list_customers(
    request: HttpRequest,
    q: str = "",
    email: str = "",
    phone: str = "",
    organization: int | None = None,
    cursor: str | None = None,
    limit: PageLimit = 25,
) -> dict[str, Any]:
    qs = _customers()
    if email:
        qs = qs.filter(identities__kind="email", identities__value=email.strip().lower())
    if phone:
        qs = qs.filter(identities__kind="phone", identities__value=services.normalize_phone(phone))
    if organization is not None:
        qs = qs.filter(organization_id=organization)
    if q:
        q = q.strip()[:200]
        qs = qs.filter(Q(name__icontains=q) | Q(email__icontains=q) | Q(phone__icontains=q))
    page = paginate(qs.distinct(), order="id", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@router.post("", response={201: CustomerOut})
def create_customer(request: HttpRequest, payload: CustomerIn) -> tuple[int, Customer]:
    customer = services.create_customer(
        name=payload.name,
        email=payload.email or "",
        phone=payload.phone or "",
        identities=[(i.kind, i.value) for i in payload.identities],
        organization=_organization(payload.organization),
        language=payload.language,
        vip=payload.vip,
        notes=payload.notes,
        custom_fields=payload.custom_fields,
    )
    return 201, _customers().get(pk=customer.pk)


@router.get("/{customer_id}", response=CustomerOut)
def get_customer(request: HttpRequest, customer_id: int) -> Customer:
    customer = _customers().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(f"Customer {customer_id} does not exist.")
    return customer


@router.patch("/{customer_id}", response=CustomerOut)
def update_customer(request: HttpRequest, customer_id: int, payload: CustomerPatch) -> Customer:
    customer = services.get_customer(customer_id)
    changes = payload.dict(exclude_unset=True)
    if "organization" in changes:
        changes["organization"] = _organization(changes["organization"])
    services.update_customer(customer, changes)
    return _customers().get(pk=customer.pk)


@router.post("/{customer_id}/identities", response={201: IdentityOut})
def add_identity(
    request: HttpRequest, customer_id: int, payload: IdentityIn
) -> tuple[int, Identity]:
    """Add a way to reach the customer; 409 when another customer owns it."""
    customer = services.get_customer(customer_id)
    return 201, services.add_identity(customer, payload.kind, payload.value)


@router.delete("/{customer_id}/identities/{identity_id}", response={204: None})
def remove_identity(request: HttpRequest, customer_id: int, identity_id: int) -> tuple[int, None]:
    services.remove_identity(services.get_customer(customer_id), identity_id)
    return 204, None


@router.get("/{customer_id}/timeline", response=list[TimelineItem])
def timeline(request: HttpRequest, customer_id: int, limit: int = 50) -> list[dict[str, Any]]:
    """Every message with this customer across tickets and channels (internal notes only for agents)."""
    customer = services.get_customer(customer_id)
    return services.timeline(request.user, customer, limit=max(1, min(limit, 200)))  # type: ignore[arg-type]


@organizations_router.get("", response=OrganizationPage)
def list_organizations(
    request: HttpRequest, q: str = "", cursor: str | None = None, limit: PageLimit = 25
) -> dict[str, Any]:
    qs = Organization.objects.all()
    if q:
        qs = qs.filter(Q(name__icontains=q[:200]) | Q(domain__icontains=q[:200]))
    page = paginate(qs, order="id", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@organizations_router.post("", response={201: OrganizationOut})
def create_organization(request: HttpRequest, payload: OrganizationIn) -> tuple[int, Organization]:
    return 201, services.create_organization(**payload.dict())


@organizations_router.get("/{org_id}", response=OrganizationOut)
def get_organization(request: HttpRequest, org_id: int) -> Organization:
    org = _organization(org_id)
    if org is None:
        raise NotFound(f"Organization {org_id} does not exist.")
    return org


@organizations_router.patch("/{org_id}", response=OrganizationOut)
def update_organization(
    request: HttpRequest, org_id: int, payload: OrganizationPatch
) -> Organization:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        raise NotFound(f"Organization {org_id} does not exist.")
    return services.update_organization(org, payload.dict(exclude_unset=True))
