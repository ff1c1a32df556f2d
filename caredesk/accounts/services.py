"""Agents, teams and API tokens: creation and revocation."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from caredesk.accounts.models import ApiToken, Role, Team, Tier, TokenScope, User
from caredesk.core.errors import Conflict, NotFound, ValidationFailed

TOKEN_PREFIX = "cdk_"


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass
class IssuedToken:
    token: str
    record: ApiToken


def create_token(agent: User, *, scope: str = TokenScope.WRITE, name: str = "") -> IssuedToken:
    if scope not in TokenScope.values:
        raise ValidationFailed(f"scope must be one of {', '.join(TokenScope.values)}.")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    record = ApiToken.objects.create(
        agent=agent, name=name, prefix=token[:12], token_hash=hash_token(token), scope=scope
    )
    return IssuedToken(token=token, record=record)


def authenticate_token(token: str) -> ApiToken | None:
    if not token.startswith(TOKEN_PREFIX):
        return None
    record = (
        ApiToken.objects.select_related("agent")
        .filter(token_hash=hash_token(token), revoked_at__isnull=True, agent__is_active=True)
        .first()
    )
    if record is None:
        return None
    now = timezone.now()
    # Write last-use at most once a minute: a hot token must not turn every read into a write.
    if record.last_used_at is None or (now - record.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=record.pk).update(last_used_at=now)
    return record


TOKEN_FAILURE_SCOPE = "api-token-failed"


def authenticate_token_from(address: str, token: str) -> ApiToken | None:
    """`authenticate_token`, throttled per client address: past the allowed failures in the
    window, even a right token is refused with 429 until the window ends, so guessing is slow
    everywhere (the counters are in the shared cache: Redis across processes when configured)."""
    from caredesk.core.ratelimit import RateLimited, count_attempts

    limit = settings.CAREDESK_API_TOKEN_FAILURE_LIMIT
    window = settings.CAREDESK_API_TOKEN_FAILURE_WINDOW
    if count_attempts(TOKEN_FAILURE_SCOPE, {address: 0}, window_seconds=window)[address] >= limit:
        raise RateLimited(
            "Too many failed API token attempts from your address. Wait and try again.",
            retry_after=window,
        )
    record = authenticate_token(token)
    if record is None:
        count_attempts(TOKEN_FAILURE_SCOPE, {address: 1}, window_seconds=window)
    return record


def revoke_token(record: ApiToken) -> None:
    if record.revoked_at is None:
        record.revoked_at = timezone.now()
        record.save(update_fields=["revoked_at"])


@transaction.atomic
def create_agent(
    *,
    email: str,
    name: str,
    password: str | None = None,
    role: str = Role.AGENT,
    tier: str = Tier.JUNIOR,
    teams: list[Team] | None = None,
    languages: list[str] | None = None,
    capacity: int = 10,
    time_zone: str = "UTC",
    check_password: bool = True,
) -> User:
    email = email.strip().lower()
    if not email or "@" not in email:
        raise ValidationFailed("A valid email address is required.")
    if role not in Role.values:
        raise ValidationFailed(f"role must be one of {', '.join(Role.values)}.")
    if tier not in Tier.values:
        raise ValidationFailed(f"tier must be one of {', '.join(Tier.values)}.")
    if User.objects.filter(email=email).exists():
        raise Conflict(f"An agent with the email {email} already exists.")
    if password and check_password:
        try:
            validate_password(password, User(email=email, name=name))
        except ValidationError as exc:
            raise ValidationFailed(" ".join(exc.messages), code="weak_password") from exc
    user = User.objects.create_user(
        email=email,
        password=password,
        name=name,
        role=role,
        tier=tier,
        languages=languages or ["en"],
        capacity=capacity,
        time_zone=time_zone,
        is_staff=role == Role.ADMIN,
        is_superuser=role == Role.ADMIN,
    )
    if teams:
        user.teams.set(teams)
    return user


def get_agent(agent_id: int) -> User:
    try:
        return User.objects.get(pk=agent_id)
    except User.DoesNotExist as exc:
        raise NotFound(f"Agent {agent_id} does not exist.") from exc


AGENT_FIELDS = {
    "name",
    "role",
    "tier",
    "languages",
    "capacity",
    "time_zone",
    "is_active",
    "presence",
    "signature",
}


@transaction.atomic
def update_agent(
    agent: User, *, teams: list[Team] | None = None, skills: list | None = None, **changes: object
) -> User:
    """Change an agent's profile, role, tier, teams or skills (audited through signals)."""
    unknown = set(changes) - AGENT_FIELDS
    if unknown:
        raise ValidationFailed(f"Unknown agent fields: {', '.join(sorted(unknown))}.")
    if "role" in changes and changes["role"] not in Role.values:
        raise ValidationFailed(f"role must be one of {', '.join(Role.values)}.")
    if "tier" in changes and changes["tier"] not in Tier.values:
        raise ValidationFailed(f"tier must be one of {', '.join(Tier.values)}.")
    for field, value in changes.items():
        setattr(agent, field, value)
    if "role" in changes:
        agent.is_staff = agent.is_superuser = changes["role"] == Role.ADMIN
    agent.save()
    if teams is not None:
        agent.teams.set(teams)
        agent.__dict__.pop("_team_ids", None)
    if skills is not None:
        agent.skills.set(skills)
    return agent
