"""API authentication: `Authorization: Bearer <token>` (scoped) or the UI's session (with CSRF)."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja.errors import HttpError
from ninja.security import APIKeyCookie, HttpBearer

from caredesk.accounts.models import TokenScope
from caredesk.accounts.services import authenticate_token_from

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class TokenAuth(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> Any:
        record = authenticate_token_from(request.META.get("REMOTE_ADDR") or "unknown", token)
        if record is None:
            return None
        if request.method not in SAFE_METHODS and record.scope != TokenScope.WRITE:
            raise HttpError(403, "This API token is read-only.")
        request.user = record.agent
        request.api_token = record  # type: ignore[attr-defined]
        return record.agent


class AgentSessionAuth(APIKeyCookie):
    """Session cookie auth for the workspace's own calls; CSRF is checked on writes."""

    param_name = "sessionid"

    def __init__(self) -> None:
        super().__init__(csrf=True)

    def authenticate(self, request: HttpRequest, key: str | None) -> Any:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and user.is_active:
            return user
        return None


agent_auth = [TokenAuth(), AgentSessionAuth()]


def require_admin(request: HttpRequest) -> None:
    if not getattr(request.user, "is_admin", False):
        raise HttpError(403, "Only admins may do this.")


def require_lead(request: HttpRequest) -> None:
    if not getattr(request.user, "is_lead", False):
        raise HttpError(403, "Only team leads and admins may do this.")
