"""TOTP two-factor sign-in (django-otp): enrol, verify, and the middleware that requires it.

An agent with a confirmed device must verify after signing in; when 2FA is required
(CAREDESK_REQUIRE_2FA or an admin's SecurityPolicy), agents without a device are sent to enrol.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from urllib.parse import quote

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

SETUP_PATH = "/agent/2fa/setup/"
VERIFY_PATH = "/agent/2fa/verify/"
EXEMPT_PREFIXES = (
    "/agent/login",
    "/agent/logout",
    "/agent/2fa/",
    "/static/",
    "/help/",
    "/chat/",
    "/api/v1/health",
)


def two_factor_required(user: object) -> bool:
    from caredesk.accounts.models import SecurityPolicy

    if settings.CAREDESK_REQUIRE_2FA:
        return True
    return SecurityPolicy.current().require_two_factor


class RequireTwoFactorMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        path = request.path
        if (
            user is not None
            and user.is_authenticated
            and path.startswith(("/agent/", "/django-admin/"))
            and not path.startswith(EXEMPT_PREFIXES)
            and not user.is_verified()  # type: ignore[union-attr]
        ):
            has_device = TOTPDevice.objects.filter(user=user, confirmed=True).exists()
            if has_device:
                return HttpResponseRedirect(f"{VERIFY_PATH}?next={quote(request.get_full_path())}")
            if two_factor_required(user):
                return HttpResponseRedirect(f"{SETUP_PATH}?next={quote(request.get_full_path())}")
        return self.get_response(request)


def _safe_next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/agent/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return "/agent/"
    return target


def setup_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(settings.LOGIN_URL)
    device, _ = TOTPDevice.objects.get_or_create(
        user=request.user, confirmed=False, defaults={"name": "Authenticator"}
    )
    error = ""
    if request.method == "POST":
        if device.verify_token(request.POST.get("code", "").strip()):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            otp_login(request, device)
            from caredesk.compliance.services import audit

            audit(request, "2fa.enrolled", target=request.user)
            return HttpResponseRedirect(_safe_next(request))
        error = "That code is not right. Check the time on your phone and try again."
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return render(
        request,
        "accounts/twofactor.html",
        {
            "title": "Set up two-factor sign-in",
            "setup": True,
            "secret": secret,
            "otpauth_url": device.config_url,
            "error": error,
            "next": _safe_next(request),
        },
        status=400 if error else 200,
    )


def verify_view(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return HttpResponseRedirect(settings.LOGIN_URL)
    error = ""
    if request.method == "POST":
        code = request.POST.get("code", "").strip()
        for device in TOTPDevice.objects.filter(user=request.user, confirmed=True):
            if device.verify_is_allowed()[0] and device.verify_token(code):
                otp_login(request, device)
                return HttpResponseRedirect(_safe_next(request))
        error = "That code is not right."
        from caredesk.compliance.services import audit

        audit(request, "2fa.failed", target=request.user)
    return render(
        request,
        "accounts/twofactor.html",
        {
            "title": "Two-factor sign-in",
            "setup": False,
            "error": error,
            "next": _safe_next(request),
        },
        status=400 if error else 200,
    )
