"""Tokens (hashed, scoped, revocable), session auth with CSRF, idempotency keys, health."""

import pytest

from caredesk.accounts.models import ApiToken
from caredesk.tickets.models import Ticket

pytestmark = pytest.mark.django_db

NEW = {"subject": "Hi", "requester": {"email": "a@example.test"}, "message": {"body": "hello"}}


def test_no_or_bad_token_is_401(api_as, client):
    assert client.get("/api/v1/tickets").status_code == 401
    response = client.get("/api/v1/tickets", HTTP_AUTHORIZATION="Bearer cdk_nope")
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthenticated"


def test_tokens_are_stored_hashed_and_shown_once(api_as, personas):
    api = api_as(personas.alice)
    issued = api.post("/api/v1/tokens", {"name": "script", "scope": "read"}).json()
    token = issued["token"]
    record = ApiToken.objects.get(pk=issued["id"])
    assert token not in (record.token_hash, record.prefix) and len(record.token_hash) == 64
    assert all("token" not in t for t in api.get("/api/v1/tokens").json())


def test_read_token_cannot_write(api_as, personas):
    response = api_as(personas.alice, scope="read").post("/api/v1/tickets", NEW)
    assert response.status_code == 403
    assert not Ticket.objects.exists()
    assert api_as(personas.alice, scope="read").get("/api/v1/tickets").status_code == 200


def test_revoked_token_stops_working(api_as, personas):
    api = api_as(personas.alice)
    issued = api.post("/api/v1/tokens", {"name": "temp"}).json()
    other = api_as(None)
    other.headers = {"HTTP_AUTHORIZATION": f"Bearer {issued['token']}"}
    assert other.get("/api/v1/agents/me").status_code == 200
    assert api.delete(f"/api/v1/tokens/{issued['id']}").status_code == 204
    assert other.get("/api/v1/agents/me").status_code == 401


def test_session_auth_needs_csrf_on_writes(personas):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas.alice)
    assert browser.get("/api/v1/agents/me").status_code == 200
    response = browser.post("/api/v1/tickets", NEW, content_type="application/json")
    assert response.status_code == 403
    assert not Ticket.objects.exists()
    browser.get("/api/docs")  # any page that sets the CSRF cookie
    token = browser.cookies["csrftoken"].value if "csrftoken" in browser.cookies else None
    if token is None:
        from django.middleware.csrf import _get_new_csrf_string

        token = _get_new_csrf_string()
        browser.cookies["csrftoken"] = token
    ok = browser.post(
        "/api/v1/tickets", NEW, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert ok.status_code == 201


def test_same_idempotency_key_twice_makes_one_ticket(api_as, personas):
    api = api_as(personas.alice)
    first = api.post("/api/v1/tickets", NEW, HTTP_IDEMPOTENCY_KEY="order-42")
    second = api.post("/api/v1/tickets", NEW, HTTP_IDEMPOTENCY_KEY="order-42")
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert second["Idempotent-Replayed"] == "true"
    assert Ticket.objects.count() == 1
    third = api.post("/api/v1/tickets", NEW, HTTP_IDEMPOTENCY_KEY="order-43")
    assert third.json()["id"] != first.json()["id"]


def test_health_reports_database_queue_and_channels(client):
    body = client.get("/api/v1/health").json()
    assert body == {"status": "ok", "database": "ok", "queue": "ok", "channels": "ok"}
