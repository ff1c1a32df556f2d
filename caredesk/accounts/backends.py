"""Login throttling: django-axes in front of the model backend, for logins made over HTTP."""

from __future__ import annotations

from typing import Any

from axes.backends import AxesStandaloneBackend
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string


class LoginThrottleBackend(AxesStandaloneBackend):
    """Axes for HTTP logins. Logins without a request (shell, tests' client.login) have no
    client address to throttle and pass through to the next backend."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def login_username(request: HttpRequest | None, credentials: dict[str, Any] | None) -> str:
    """The address a sign-in attempt counts against (AXES_USERNAME_CALLABLE): lower-cased, as
    sign-in ignores letter case, so "Ann@x" and "ann@x" share one failure count and lockout."""
    from django.conf import settings

    field = settings.AXES_USERNAME_FORM_FIELD
    if credentials:
        value = credentials.get(field) or ""
    else:
        data = getattr(request, "data", None) or getattr(request, "POST", {})
        value = data.get(field) or ""
    return str(value).strip().lower()


def lockout_response(
    request: HttpRequest,
    original_response: Any = None,
    credentials: Any = None,
    *args: Any,
    **kwargs: Any,
) -> HttpResponse:
    from django.conf import settings

    minutes = int(round(float(settings.AXES_COOLOFF_TIME) * 60))
    if request.path.startswith("/api/"):
        import json

        body = {
            "error": {
                "code": "locked_out",
                "message": f"Too many failed sign-ins. Try again in {minutes} minutes.",
            }
        }
        return HttpResponse(json.dumps(body), status=429, content_type="application/json")
    html = render_to_string("accounts/locked_out.html", {"minutes": minutes}, request=request)
    return HttpResponse(html, status=429)
