"""Malformed cookies are dropped before the session is loaded (PostgreSQL refuses NUL bytes)."""

import pytest

pytestmark = pytest.mark.django_db


def test_session_cookie_with_nul_bytes_reads_as_no_session(client):
    client.cookies["sessionid"] = "abc\x00def"
    response = client.get("/api/v1/agents/me")
    assert response.status_code == 401


def test_middleware_keeps_good_cookies_and_drops_bad_ones(rf):
    from caredesk.core.middleware import DropMalformedCookiesMiddleware

    seen = {}
    request = rf.get("/")
    request.COOKIES = {"good": "value", "bad": "x\x00y", "ctl": "a\x07b"}
    DropMalformedCookiesMiddleware(lambda r: seen.update(r.COOKIES) or None)(request)
    assert seen == {"good": "value"}
