"""Audit sign-ins, sign-outs, failures and permission changes."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import m2m_changed, pre_save
from django.dispatch import receiver

from caredesk.accounts.models import User
from caredesk.compliance.services import audit

# Set while a backup is being restored: loaded rows are history, not new actions.
PAUSED = {"value": False}


@receiver(user_logged_in)
def on_login(sender: Any, request: Any, user: User, **kwargs: Any) -> None:
    if request is not None:
        audit(request, "auth.login", target=user)


@receiver(user_logged_out)
def on_logout(sender: Any, request: Any, user: User | None, **kwargs: Any) -> None:
    if request is not None and user is not None:
        audit(user, "auth.logout", target=user)


@receiver(user_login_failed)
def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any
) -> None:
    audit(
        request,
        "auth.login_failed",
        target_type="user",
        actor_label=str(credentials.get("username", ""))[:320],
    )


@receiver(pre_save, sender=User)
def on_role_change(sender: Any, instance: User, **kwargs: Any) -> None:
    if instance.pk is None or kwargs.get("raw") or PAUSED["value"]:
        return
    before = User.objects.filter(pk=instance.pk).values("role", "tier", "is_active").first()
    if before is None:
        return
    changes = {
        k: {"old": v, "new": getattr(instance, k)}
        for k, v in before.items()
        if v != getattr(instance, k)
    }
    if changes:
        audit(None, "agent.permissions_changed", target=instance, changes=changes)


@receiver(m2m_changed, sender=User.teams.through)
def on_team_change(
    sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any
) -> None:
    if PAUSED["value"]:
        return
    if action in ("post_add", "post_remove") and isinstance(instance, User) and pk_set:
        audit(None, "agent.teams_changed", target=instance, change=action[5:], teams=sorted(pk_set))
