"""Twilio's webhooks: thin; the signature is checked before anything is read or stored."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from caredesk.channels.sms import services
from caredesk.channels.sms.models import SmsAccount
from caredesk.core.errors import ValidationFailed

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _signed_account(request: HttpRequest, slug: str) -> SmsAccount | HttpResponse:
    account = get_object_or_404(SmsAccount, slug=slug, active=True)
    request.body  # noqa: B018 - read the raw form first: it is what is stored, byte for byte
    if not services.signature_is_valid(account, request):
        return HttpResponse(
            "The X-Twilio-Signature header is missing or does not match this account's auth "
            "token and URL.",
            status=403,
            content_type="text/plain",
        )
    return account


@csrf_exempt
@require_POST
def inbound(request: HttpRequest, slug: str) -> HttpResponse:
    account = _signed_account(request, slug)
    if isinstance(account, HttpResponse):
        return account
    try:
        services.receive(account, request.body)
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    # Empty TwiML: caredesk answers later through the REST API, never in the webhook.
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def status(request: HttpRequest, slug: str) -> HttpResponse:
    account = _signed_account(request, slug)
    if isinstance(account, HttpResponse):
        return account
    try:
        services.record_status(request.body)
    except ValidationFailed as exc:
        return HttpResponse(exc.message, status=400, content_type="text/plain")
    return HttpResponse(status=204)
