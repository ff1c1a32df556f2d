"""CRM domain logic: identities are normalised here, and a (kind, value) has one owner."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Lower

from caredesk.accounts.models import User
from caredesk.assist.redaction import redact
from caredesk.core.bulk import insert_rows
from caredesk.core.errors import Conflict, NotFound, ValidationFailed
from caredesk.core.prepared import PreparedInQuery
from caredesk.customers.models import Customer, Identity, IdentityKind, Organization

DEFAULT_PHONE_REGION = "US"


def normalize_identity(kind: str, value: str) -> str:
    """Canonical form of an identity value; raises ValidationFailed for a bad one."""
    value = (value or "").strip()
    if kind not in IdentityKind.values:
        raise ValidationFailed(f"Unknown identity kind {kind!r}.", code="bad_identity")
    if not value:
        raise ValidationFailed(f"The {kind} identity is empty.", code="bad_identity")
    if kind == IdentityKind.EMAIL:
        value = value.lower()
        try:
            validate_email(value)
        except ValidationError as exc:
            raise ValidationFailed(
                f"{value!r} is not a valid email address.", code="bad_email"
            ) from exc
        return value
    if kind in (IdentityKind.PHONE, IdentityKind.WHATSAPP):
        return normalize_phone(value)
    if len(value) > 320:
        raise ValidationFailed("Identity values are at most 320 characters.", code="bad_identity")
    return value


def normalize_phone(value: str, region: str = DEFAULT_PHONE_REGION) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"{value!r} is not a phone number.", code="bad_phone") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(f"{value!r} is not a valid phone number.", code="bad_phone")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def find_by_identity(kind: str, value: str) -> Customer | None:
    normalized = normalize_identity(kind, value)
    identity = (
        Identity.objects.select_related("customer").filter(kind=kind, value=normalized).first()
    )
    return identity.customer if identity else None


def _organization_for_email(email: str) -> Organization | None:
    domain = email.rsplit("@", 1)[-1]
    return Organization.objects.filter(domain__iexact=domain).first() if domain else None


@transaction.atomic
def create_customer(
    *,
    name: str = "",
    email: str = "",
    phone: str = "",
    identities: list[tuple[str, str]] | None = None,
    organization: Organization | None = None,
    language: str = "",
    vip: bool = False,
    notes: str = "",
    custom_fields: dict[str, Any] | None = None,
) -> Customer:
    pairs: list[tuple[str, str]] = []
    if email:
        pairs.append((IdentityKind.EMAIL, normalize_identity(IdentityKind.EMAIL, email)))
    if phone:
        pairs.append((IdentityKind.PHONE, normalize_identity(IdentityKind.PHONE, phone)))
    for kind, value in identities or []:
        pairs.append((kind, normalize_identity(kind, value)))
    if len(name) > 200:
        raise ValidationFailed("name is at most 200 characters.")
    name = redact(name)  # a card number typed as a name (a form, a chat's pre-chat name)
    for kind, value in pairs:
        if Identity.objects.filter(kind=kind, value=value).exists():
            raise Conflict(
                f"The {kind} {value} already belongs to another customer.", code="identity_taken"
            )
    primary_email = next((v for k, v in pairs if k == IdentityKind.EMAIL), "")
    customer = Customer.objects.create(
        name=name.strip(),
        email=primary_email,
        phone=next((v for k, v in pairs if k == IdentityKind.PHONE), ""),
        organization=organization
        or (_organization_for_email(primary_email) if primary_email else None),
        language=language,
        vip=vip,
        notes=notes,
        custom_fields=custom_fields or {},
    )
    Identity.objects.bulk_create(
        [
            Identity(customer=customer, kind=kind, value=value)
            for kind, value in dict.fromkeys(pairs)
        ]
    )
    return customer


def find_or_create_customer(kind: str, value: str, *, name: str = "") -> tuple[Customer, bool]:
    """The customer owning this identity, or a new one. Safe against a concurrent insert."""
    normalized = normalize_identity(kind, value)
    existing = (
        Identity.objects.select_related("customer").filter(kind=kind, value=normalized).first()
    )
    if existing:
        return existing.customer, False
    try:
        with transaction.atomic():
            kwargs: dict[str, Any] = {"name": name}
            if kind == IdentityKind.EMAIL:
                kwargs["email"] = normalized
            elif kind == IdentityKind.PHONE:
                kwargs["phone"] = normalized
            else:
                kwargs["identities"] = [(kind, normalized)]
            return create_customer(**kwargs), True
    except (IntegrityError, Conflict):
        identity = Identity.objects.select_related("customer").get(kind=kind, value=normalized)
        return identity.customer, False


OWNER_FIELDS = ["id", "organization_id", "language"]
# Asked for every batch of inbound mail: the ORM writes the query once per process.
_OWNERS = PreparedInQuery(
    lambda values, kind: Identity.objects.filter(kind=kind, value__in=values).values_list(
        "value", *(f"customer__{name}" for name in OWNER_FIELDS)
    ),
    "values",
    values="\x00identity placeholder\x00",
    kind="\x00kind placeholder\x00",
)


def find_or_create_customers(
    senders: Sequence[tuple[str, str, str]], now: datetime
) -> list[Customer]:
    """`find_or_create_customer` for several (kind, value, name) at once, in the caller's
    transaction: one look-up per identity kind, and the missing customers, their identities and
    their search documents written with one INSERT each. A value that comes twice makes one
    customer, named by its first sender. Raises ValidationFailed for a bad identity, and
    IntegrityError when another writer stored one of the identities meanwhile (the caller then
    takes them one at a time)."""
    from caredesk.search import services as search

    keys = [(kind, normalize_identity(kind, value)) for kind, value, _ in senders]
    found: dict[tuple[str, str], Customer] = {}
    by_kind: dict[str, set[str]] = {}
    for kind, value in keys:
        by_kind.setdefault(kind, set()).add(value)
    alias = connection.alias
    for kind, values in by_kind.items():
        for value, *owner in _OWNERS.rows(values=sorted(values), kind=kind):
            # What a ticket needs of its requester; the other fields load when first read.
            found[(kind, value)] = Customer.from_db(alias, OWNER_FIELDS, owner)
    missing: dict[tuple[str, str], str] = {}
    for (kind, value), (_, _, name) in zip(keys, senders, strict=True):
        if (kind, value) not in found and (kind, value) not in missing:
            if len(name) > 200:
                raise ValidationFailed("name is at most 200 characters.")
            missing[(kind, value)] = redact(name.strip())
    if missing:
        domains = {v.rsplit("@", 1)[-1] for k, v in missing if k == IdentityKind.EMAIL}
        organizations: dict[str, int] = {}
        if domains:
            # `_organization_for_email` for every domain at once: the first by name wins.
            for pk, domain in (
                Organization.objects.annotate(lower_domain=Lower("domain"))
                .filter(lower_domain__in=sorted(domains))
                .order_by("-name")
                .values_list("pk", "lower_domain")
            ):
                organizations[domain] = pk
        new = []
        for (kind, value), name in missing.items():
            email = value if kind == IdentityKind.EMAIL else ""
            new.append(
                Customer(
                    name=name,
                    email=email,
                    phone=value if kind == IdentityKind.PHONE else "",
                    organization_id=organizations.get(email.rsplit("@", 1)[-1]) if email else None,
                    created_at=now,
                    updated_at=now,
                )
            )
        fields = ("name", "email", "phone", "organization_id", "created_at", "updated_at")
        ids = insert_rows(Customer, [{f: getattr(c, f) for f in fields} for c in new], now)
        for customer, pk in zip(new, ids, strict=True):
            customer.pk = customer.id = pk
            customer._state.adding = False
        insert_rows(
            Identity,
            [
                {"customer_id": c.pk, "kind": kind, "value": value}
                for c, (kind, value) in zip(new, missing, strict=True)
            ],
            now,
        )
        # What `index_customer` writes after a customer is saved (bulk rows send no signal).
        search.add_customers([(c, [value]) for c, (_, value) in zip(new, missing, strict=True)])
        found.update(zip(missing, new, strict=True))
    return [found[key] for key in keys]


@transaction.atomic
def add_identity(customer: Customer, kind: str, value: str) -> Identity:
    normalized = normalize_identity(kind, value)
    owner = Identity.objects.filter(kind=kind, value=normalized).select_related("customer").first()
    if owner is not None:
        if owner.customer_id == customer.pk:
            return owner
        raise Conflict(
            f"The {kind} {normalized} already belongs to another customer.", code="identity_taken"
        )
    identity = Identity.objects.create(customer=customer, kind=kind, value=normalized)
    changed = []
    if kind == IdentityKind.EMAIL and not customer.email:
        customer.email = normalized
        changed.append("email")
    if kind == IdentityKind.PHONE and not customer.phone:
        customer.phone = normalized
        changed.append("phone")
    if changed:
        customer.save(update_fields=[*changed, "updated_at"])
    return identity


@transaction.atomic
def remove_identity(customer: Customer, identity_id: int) -> None:
    deleted, _ = Identity.objects.filter(customer=customer, pk=identity_id).delete()
    if not deleted:
        raise NotFound("That identity is not on this customer.")


EDITABLE_FIELDS = {"name", "language", "vip", "notes", "custom_fields", "organization"}


@transaction.atomic
def update_customer(customer: Customer, changes: dict[str, Any]) -> Customer:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown customer fields: {', '.join(sorted(unknown))}.")
    for field, value in changes.items():
        setattr(customer, field, value)
    customer.save()
    return customer


ORGANIZATION_FIELDS = {"name", "domain", "notes", "shared_tickets", "custom_fields"}


def _check_organization_name(name: str, *, exclude: int | None = None) -> None:
    taken = Organization.objects.filter(name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(f"An organization named {name!r} exists.")


def create_organization(**fields: Any) -> Organization:
    """A new organization; 409 when the name is taken (names are unique)."""
    unknown = set(fields) - ORGANIZATION_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown organization fields: {', '.join(sorted(unknown))}.")
    _check_organization_name(fields["name"])
    try:
        with transaction.atomic():
            return Organization.objects.create(**fields)
    except IntegrityError as exc:  # created by someone else between the check and the insert
        raise Conflict(f"An organization named {fields['name']!r} exists.") from exc


def update_organization(org: Organization, changes: dict[str, Any]) -> Organization:
    """Change an organization; renaming it to another organization's name is a 409."""
    unknown = set(changes) - ORGANIZATION_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown organization fields: {', '.join(sorted(unknown))}.")
    if "name" in changes:
        _check_organization_name(changes["name"], exclude=org.pk)
    for field, value in changes.items():
        setattr(org, field, value)
    try:
        with transaction.atomic():
            org.save()
    except IntegrityError as exc:
        raise Conflict(f"An organization named {changes.get('name')!r} exists.") from exc
    return org


def get_customer(customer_id: int) -> Customer:
    try:
        return Customer.objects.select_related("organization").get(pk=customer_id)
    except Customer.DoesNotExist as exc:
        raise NotFound(f"Customer {customer_id} does not exist.") from exc


def timeline(
    agent: User, customer: Customer, limit: int = 50, *, internal: bool = True
) -> list[dict[str, Any]]:
    """Every interaction with this customer the agent may see, newest first: the messages of
    their tickets across channels, only from tickets inside the agent's scope (the visibility
    rule of tickets.access). `internal=False` leaves internal notes out."""
    from caredesk.tickets.access import visible_tickets
    from caredesk.tickets.models import Message

    scope = Message.objects.filter(
        ticket__in=visible_tickets(agent).filter(requester=customer).values("pk")
    )
    if not internal:
        scope = scope.filter(internal=False)
    messages = scope.select_related("ticket").order_by("-created_at", "-id")[:limit]
    return [
        {
            "at": m.created_at,
            "ticket_id": m.ticket_id,
            "subject": m.ticket.subject,
            "channel": m.channel or m.ticket.channel,
            "author_kind": m.author_kind,
            "internal": m.internal,
            "excerpt": m.body_text[:200],
        }
        for m in messages
    ]
