"""TOTP two-factor sign-in (django-otp): enrol, verify, and the middleware that requires it.

An agent with a confirmed device must verify after signing in; when 2FA is required
(CAREDESK_REQUIRE_2FA or an admin's SecurityPolicy), agents without a device are sent to enrol.
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save
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


# The middleware's two questions for an agent who has not verified ("has a confirmed device?",
# "is 2FA required?") are answered from the shared cache instead of two statements per request:
# - the policy's flag, dropped from the cache when the policy is saved;
# - a per-agent device stamp, replaced whenever one of the agent's devices is saved or deleted;
#   the session remembers "no confirmed device under stamp S, checked at T", valid while the stamp
#   is unchanged and for at most RECHECK_SECONDS (a change the signals do not see, such as a
#   QuerySet.update(), or one process's cache not shared with another, is caught by then).
POLICY_KEY = "2fa:policy"
RECHECK_SECONDS = 30
SESSION_KEY = "_caredesk_2fa_no_device"


def _stamp_key(user_id: int) -> str:
    return f"2fa:devices:{user_id}"


def two_factor_required(user: object) -> bool:
    from caredesk.accounts.models import SecurityPolicy

    if settings.CAREDESK_REQUIRE_2FA:
        return True
    required = cache.get(POLICY_KEY)
    if required is None:
        required = SecurityPolicy.current().require_two_factor
        cache.set(POLICY_KEY, required, RECHECK_SECONDS)
    return bool(required)


def _state(user_id: int) -> tuple[bool | None, str]:
    """The cached policy flag (None: not cached) and the agent's device stamp, in one cache read."""
    key = _stamp_key(user_id)
    found = cache.get_many([POLICY_KEY, key])
    stamp = found.get(key)
    if stamp is None:
        new = uuid.uuid4().hex
        stamp = new if cache.add(key, new, None) else (cache.get(key) or new)
    return found.get(POLICY_KEY), stamp


def forget_policy(*_: Any, **kwargs: Any) -> None:
    cache.delete(POLICY_KEY)
    transaction.on_commit(lambda: cache.delete(POLICY_KEY), using=kwargs.get("using"))


def devices_changed(*_: Any, instance: TOTPDevice, **kwargs: Any) -> None:
    """A new stamp now and another once the change is committed: a session that checked between
    the two saw the old rows under the first new stamp, so its answer is not trusted afterwards."""
    user_id = instance.user_id

    def restamp() -> None:
        cache.set(_stamp_key(user_id), uuid.uuid4().hex, None)

    restamp()
    transaction.on_commit(restamp, using=kwargs.get("using"))


def connect_signals() -> None:
    from caredesk.accounts.models import SecurityPolicy

    post_save.connect(forget_policy, sender=SecurityPolicy, dispatch_uid="2fa-policy-saved")
    post_delete.connect(forget_policy, sender=SecurityPolicy, dispatch_uid="2fa-policy-deleted")
    post_save.connect(devices_changed, sender=TOTPDevice, dispatch_uid="2fa-device-saved")
    post_delete.connect(devices_changed, sender=TOTPDevice, dispatch_uid="2fa-device-deleted")


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
            required, stamp = _state(user.pk)
            remembered = request.session.get(SESSION_KEY)
            if not (
                isinstance(remembered, list)
                and len(remembered) == 2
                and remembered[0] == stamp
                and 0 <= time.time() - remembered[1] < RECHECK_SECONDS
            ):
                if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
                    request.session.pop(SESSION_KEY, None)
                    return HttpResponseRedirect(
                        f"{VERIFY_PATH}?next={quote(request.get_full_path())}"
                    )
                request.session[SESSION_KEY] = [stamp, time.time()]
            if settings.CAREDESK_REQUIRE_2FA or (
                required if required is not None else two_factor_required(user)
            ):
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
