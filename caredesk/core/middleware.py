"""Request hygiene that must run before anything touches the database."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse


class DropMalformedCookiesMiddleware:
    """Cookies with NUL or control characters are dropped: PostgreSQL refuses NUL in text, and a
    forged session cookie must read as 'no session', not crash the request."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        bad = [
            name
            for name, value in request.COOKIES.items()
            if any(ord(ch) < 32 for ch in name + value)
        ]
        for name in bad:
            del request.COOKIES[name]
        return self.get_response(request)
