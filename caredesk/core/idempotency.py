"""Honour the Idempotency-Key header on API POSTs: a retried request gets the first answer."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse

MAX_KEY_LENGTH = 255


def _caller_identity(request: HttpRequest) -> str:
    auth = request.headers.get("Authorization", "")
    if auth:
        return "token:" + hashlib.sha256(auth.encode()).hexdigest()
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return f"user:{user.pk}"
    return (
        "anon:" + request.session.session_key
        if getattr(request, "session", None) and request.session.session_key
        else "anon"
    )


class IdempotencyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        key = request.headers.get("Idempotency-Key")
        if request.method != "POST" or not key or not request.path.startswith("/api/"):
            return self.get_response(request)
        from caredesk.core.models import IdempotencyRecord

        if len(key) > MAX_KEY_LENGTH:
            return JsonResponse(
                {
                    "error": {
                        "code": "bad_idempotency_key",
                        "message": f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters.",
                    }
                },
                status=400,
            )
        key_hash = hashlib.sha256(
            f"{_caller_identity(request)}|{request.path}|{key}".encode()
        ).hexdigest()
        stored = IdempotencyRecord.objects.filter(key_hash=key_hash).first()
        if stored is not None:
            replay = HttpResponse(
                bytes(stored.body), status=stored.status_code, content_type=stored.content_type
            )
            replay["Idempotent-Replayed"] = "true"
            return replay
        response = self.get_response(request)
        # Only settled answers are kept: a 5xx or an auth failure may succeed when retried.
        if (
            response.status_code < 500
            and response.status_code not in (401, 429)
            and not response.streaming
        ):
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        key_hash=key_hash,
                        method=request.method,
                        path=request.path[:500],
                        status_code=response.status_code,
                        content_type=response.get("Content-Type", "application/json"),
                        body=response.content,
                    )
            except IntegrityError:
                pass
        return response
