"""REST endpoints for agents, teams, skills and the caller's API tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Router, Schema

from caredesk.accounts import services
from caredesk.accounts.api_auth import require_admin
from caredesk.accounts.models import ApiToken, Skill, Team, User
from caredesk.core.api_types import DbId, omittable
from caredesk.core.errors import Conflict, NotFound, ValidationFailed

router = Router(tags=["agents and teams"])

RoleName = Literal["agent", "lead", "admin"]
TierName = Literal["junior", "mid", "senior", "lead"]


class TeamRef(Schema):
    id: int
    name: str


class AgentOut(Schema):
    id: int
    email: str
    name: str
    role: RoleName
    tier: TierName
    teams: list[TeamRef]
    skills: list[str]
    languages: list[str]
    capacity: int
    time_zone: str
    presence: str
    is_active: bool

    @staticmethod
    def resolve_teams(obj: User) -> list[dict[str, Any]]:
        return [{"id": t.pk, "name": t.name} for t in obj.teams.all()]

    @staticmethod
    def resolve_skills(obj: User) -> list[str]:
        return [s.name for s in obj.skills.all()]


class AgentIn(Schema):
    email: str = Field(..., max_length=254)
    name: str = Field(..., min_length=1, max_length=150)
    password: str | None = Field(None, max_length=200)
    role: RoleName = "agent"
    tier: TierName = "junior"
    teams: list[int] = Field(default_factory=list)
    skills: list[str] = Field(default_factory=list, max_length=100)
    languages: list[str] = Field(default_factory=lambda: ["en"], max_length=50)
    capacity: int = Field(10, ge=0, le=1000)
    time_zone: str = Field("UTC", max_length=64)


class AgentPatch(Schema):
    name: str = omittable(min_length=1, max_length=150)
    role: RoleName = omittable()
    tier: TierName = omittable()
    teams: list[int] = omittable()
    skills: list[str] = omittable(max_length=100)
    languages: list[str] = omittable(max_length=50)
    capacity: int = omittable(ge=0, le=1000)
    time_zone: str = omittable(max_length=64)
    is_active: bool = omittable()


class TeamIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    slug: str = Field(..., min_length=1, max_length=100, pattern=r"^[a-z0-9-]+$")
    description: str = Field("", max_length=2000)
    time_zone: str = Field("UTC", max_length=64)
    email_address: str = Field("", max_length=254)


class TeamOut(Schema):
    id: int
    name: str
    slug: str
    description: str
    time_zone: str
    email_address: str


class SkillOut(Schema):
    id: int
    name: str


class TokenIn(Schema):
    name: str = Field("", max_length=100)
    scope: Literal["read", "write"] = "write"


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class IssuedTokenOut(TokenOut):
    token: str = Field(..., description="Shown once; only its hash is stored")


def _agents() -> QuerySet[User]:
    return User.objects.prefetch_related("teams", "skills")


def _teams(ids: list[int]) -> list[Team]:
    teams = list(Team.objects.filter(pk__in=ids))
    if len(teams) != len(set(ids)):
        raise ValidationFailed("One or more teams do not exist.", code="unknown_team")
    return teams


def _skills(names: list[str]) -> list[Skill]:
    return [Skill.objects.get_or_create(name=n.strip()[:100])[0] for n in names if n.strip()]


@router.get("/agents", response=list[AgentOut])
def list_agents(
    request: HttpRequest, team: DbId | None = None, active: bool = True
) -> QuerySet[User]:
    qs = _agents().filter(is_active=active)
    if team is not None:
        qs = qs.filter(teams=team)
    return qs.order_by("name")[:1000]


@router.get("/agents/me", response=AgentOut)
def me(request: HttpRequest) -> User:
    return _agents().get(pk=request.user.pk)


@router.get("/agents/{agent_id}", response=AgentOut)
def get_agent(request: HttpRequest, agent_id: int) -> User:
    agent = _agents().filter(pk=agent_id).first()
    if agent is None:
        raise NotFound(f"Agent {agent_id} does not exist.")
    return agent


@router.post("/agents", response={201: AgentOut})
def create_agent(request: HttpRequest, payload: AgentIn) -> tuple[int, User]:
    require_admin(request)
    agent = services.create_agent(
        email=payload.email,
        name=payload.name,
        password=payload.password,
        role=payload.role,
        tier=payload.tier,
        teams=_teams(payload.teams),
        languages=payload.languages,
        capacity=payload.capacity,
        time_zone=payload.time_zone,
    )
    agent.skills.set(_skills(payload.skills))
    return 201, _agents().get(pk=agent.pk)


@router.patch("/agents/{agent_id}", response=AgentOut)
def update_agent(request: HttpRequest, agent_id: int, payload: AgentPatch) -> User:
    require_admin(request)
    agent = services.get_agent(agent_id)
    changes = payload.dict(exclude_unset=True)
    services.update_agent(
        agent,
        teams=_teams(changes.pop("teams")) if "teams" in changes else None,
        skills=_skills(changes.pop("skills")) if "skills" in changes else None,
        **changes,
    )
    return _agents().get(pk=agent.pk)


@router.get("/teams", response=list[TeamOut])
def list_teams(request: HttpRequest) -> QuerySet[Team]:
    return Team.objects.all()


@router.post("/teams", response={201: TeamOut})
def create_team(request: HttpRequest, payload: TeamIn) -> tuple[int, Team]:
    require_admin(request)
    if (
        Team.objects.filter(slug=payload.slug).exists()
        or Team.objects.filter(name=payload.name).exists()
    ):
        raise Conflict("A team with that name or slug exists.")
    return 201, Team.objects.create(**payload.dict())


@router.get("/teams/{team_id}", response=TeamOut)
def get_team(request: HttpRequest, team_id: int) -> Team:
    team = Team.objects.filter(pk=team_id).first()
    if team is None:
        raise NotFound(f"Team {team_id} does not exist.")
    return team


@router.get("/skills", response=list[SkillOut])
def list_skills(request: HttpRequest) -> QuerySet[Skill]:
    return Skill.objects.all()


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request: HttpRequest) -> QuerySet[ApiToken]:
    """Your own API tokens (never the tokens themselves)."""
    return ApiToken.objects.filter(agent=request.user).order_by("-created_at")


@router.post("/tokens", response={201: IssuedTokenOut})
def create_token(request: HttpRequest, payload: TokenIn) -> tuple[int, dict[str, Any]]:
    issued = services.create_token(request.user, scope=payload.scope, name=payload.name)  # type: ignore[arg-type]
    record = issued.record
    return 201, {
        "id": record.pk,
        "name": record.name,
        "prefix": record.prefix,
        "scope": record.scope,
        "created_at": record.created_at,
        "last_used_at": None,
        "revoked_at": None,
        "token": issued.token,
    }


@router.delete("/tokens/{token_id}", response={204: None})
def revoke_token(request: HttpRequest, token_id: int) -> tuple[int, None]:
    record = ApiToken.objects.filter(pk=token_id, agent=request.user).first()
    if record is None:
        raise NotFound(f"Token {token_id} does not exist.")
    services.revoke_token(record)
    return 204, None
