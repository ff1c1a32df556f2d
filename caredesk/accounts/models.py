"""Agents (Django users with a role, tier, teams, skills, languages, capacity), teams and API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone

from caredesk.core.prepared import PreparedQuery


class Role(models.TextChoices):
    AGENT = "agent", "Agent"
    LEAD = "lead", "Team lead"
    ADMIN = "admin", "Admin"


class Tier(models.TextChoices):
    JUNIOR = "junior", "Junior"
    MID = "mid", "Mid-level"
    SENIOR = "senior", "Senior"
    LEAD = "lead", "Lead"


TIER_ORDER: list[str] = [Tier.JUNIOR, Tier.MID, Tier.SENIOR, Tier.LEAD]


class Presence(models.TextChoices):
    ONLINE = "online", "Online"
    AWAY = "away", "Away"
    OFFLINE = "offline", "Offline"


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.TextField(blank=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    email_address = models.EmailField(blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Skill(models.Model):
    name = models.CharField(max_length=100, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class UserManager(BaseUserManager["User"]):
    use_in_migrations = True

    def create_user(self, email: str, password: str | None = None, **fields: object) -> User:
        if not email:
            raise ValueError("An agent needs an email address.")
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def get_by_natural_key(self, username: str | None) -> User:
        """The agent signing in: the address in any letter case (addresses are stored lower-cased;
        a row saved before that, differing only in case, is still found)."""
        address = (username or "").strip()
        try:
            return self.get(email=address.lower())
        except self.model.DoesNotExist:
            older = list(self.filter(email__iexact=address)[:2])
            if len(older) != 1:  # none, or two old rows differing only in case: ambiguous
                raise
            return older[0]

    def create_superuser(self, email: str, password: str | None = None, **fields: object) -> User:
        fields.setdefault("role", Role.ADMIN)
        fields.setdefault("tier", Tier.LEAD)
        fields.setdefault("is_staff", True)
        fields.setdefault("is_superuser", True)
        return self.create_user(email, password, **fields)


class User(AbstractBaseUser, PermissionsMixin):
    """An agent, team lead or admin of the support team (customers are not users)."""

    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    tier = models.CharField(max_length=10, choices=Tier.choices, default=Tier.JUNIOR)
    teams = models.ManyToManyField(Team, related_name="members", blank=True)
    skills = models.ManyToManyField(Skill, related_name="agents", blank=True)
    languages = models.JSONField(default=list, blank=True)
    capacity = models.PositiveSmallIntegerField(default=10, help_text="Concurrent async tickets")
    time_zone = models.CharField(max_length=64, default="UTC")
    presence = models.CharField(max_length=10, choices=Presence.choices, default=Presence.OFFLINE)
    # Stamped by an open workspace (its WebSocket) and by setting one's status; online or away
    # with no stamp for a while lapses to offline (chat.services.lapse_presence). Null: presence
    # set by other means (an admin, the demo data), which does not lapse.
    presence_seen_at = models.DateTimeField(null=True, blank=True)
    signature = models.TextField(blank=True)
    # The inbox columns this agent chose to see (agent.services.INBOX_COLUMNS keys, in order);
    # empty: all of them.
    inbox_columns = models.JSONField(default=list, blank=True)
    is_active = models.BooleanField(default=True)
    is_staff = models.BooleanField(default=False)
    date_joined = models.DateTimeField(default=timezone.now)

    objects = UserManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["name"]

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name or self.email

    def clean(self) -> None:
        # Before a form's uniqueness check, so "Ann@x" is refused where "ann@x" exists.
        super().clean()
        self.email = (self.email or "").strip().lower()

    def save(self, *args: Any, **kwargs: Any) -> None:
        # One account per address whatever its letter case: the unique index sees lower case only.
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN

    @property
    def is_lead(self) -> bool:
        return self.role in (Role.LEAD, Role.ADMIN)

    def team_ids(self) -> list[int]:
        cached = getattr(self, "_team_ids", None)
        if cached is None:
            cached = [row[0] for row in _TEAM_IDS.rows(user_id=self.pk)]
            self._team_ids = cached
        return cached


# Asked on every workspace request (scope of the inbox, access to a ticket): the ORM writes the
# query once per process.
_TEAM_IDS = PreparedQuery(
    lambda user_id: Team.objects.filter(members=user_id).values_list("id"), user_id=-7_000_201
)


class TokenScope(models.TextChoices):
    READ = "read", "Read"
    WRITE = "write", "Read and write"


class ApiToken(models.Model):
    """A per-agent API token. Only its SHA-256 is stored; the token is shown once."""

    agent = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, db_index=True)
    token_hash = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=5, choices=TokenScope.choices, default=TokenScope.WRITE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.agent})"


class SecurityPolicy(models.Model):
    """Instance-wide security settings an admin changes at run time (one row)."""

    require_two_factor = models.BooleanField(default=False)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return "Security policy"

    @classmethod
    def current(cls) -> SecurityPolicy:
        policy, _ = cls.objects.get_or_create(pk=1)
        return policy
