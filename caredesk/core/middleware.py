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


class RejectNulCharactersMiddleware:
    """Form fields and query parameters never legitimately contain NUL; PostgreSQL cannot store it.
    Such a request is refused with a clear 400 instead of failing deeper down."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        values = [*request.GET.lists()]
        # Only urlencoded forms: reading a multipart body here would consume the upload stream
        # that views such as the provider webhooks read themselves.
        if request.method == "POST" and request.content_type == "application/x-www-form-urlencoded":
            values += [*request.POST.lists()]
        for key, items in values:
            if "\x00" in key or any("\x00" in item for item in items):
                if request.path.startswith("/api/"):
                    from django.http import JsonResponse

                    return JsonResponse(
                        {
                            "error": {
                                "code": "bad_characters",
                                "message": f"{key} contains a NUL character.",
                            }
                        },
                        status=400,
                    )
                return HttpResponse(
                    "The request contains a NUL character, which is not allowed.",
                    status=400,
                    content_type="text/plain",
                )
        return self.get_response(request)
