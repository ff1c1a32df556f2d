"""caredesk's own system checks (`caredesk check`, `caredesk check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register


def https_hints() -> list[str]:
    """Settings that say the site is reached over HTTPS (a proxy that terminates TLS)."""
    hints = []
    if settings.SECURE_PROXY_SSL_HEADER:
        hints.append("SECURE_PROXY_SSL_HEADER is set")
    if str(settings.BASE_URL).lower().startswith("https://"):
        hints.append(f"CAREDESK_BASE_URL is {settings.BASE_URL}")
    origins = [o for o in settings.CSRF_TRUSTED_ORIGINS if o.lower().startswith("https://")]
    if origins:
        hints.append(f"CAREDESK_CSRF_TRUSTED_ORIGINS has {', '.join(origins)}")
    if getattr(settings, "SECURE_SSL_REDIRECT", False):
        hints.append("SECURE_SSL_REDIRECT is on")
    return hints


@register(Tags.security, deploy=True)
def check_session_cookie_secure(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Behind HTTPS with CAREDESK_HTTPS off, the session cookie would also be sent over plain
    HTTP (a first http:// request, a downgrade), where anyone on the path can take the session."""
    if settings.SESSION_COOKIE_SECURE:
        return []
    hints = https_hints()
    if not hints:
        return []
    return [
        Warning(
            "The site looks served over HTTPS ("
            + "; ".join(hints)
            + "), but CAREDESK_HTTPS is off: the session and CSRF cookies are not marked Secure "
            "and HSTS is not sent.",
            hint="Set CAREDESK_HTTPS=1 in the environment of every caredesk process (see "
            "docs/install.md, 'Going live').",
            id="caredesk.W001",
        )
    ]
