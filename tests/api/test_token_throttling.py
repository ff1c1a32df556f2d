"""Guessing API tokens is throttled per client address: after the allowed failures the address
gets 429 with Retry-After, even for a right token, until the window ends; other addresses are
not affected."""

import secrets

import pytest

from caredesk.accounts.services import create_token

pytestmark = pytest.mark.django_db


def _get(client, token, address="203.0.113.7"):
    return client.get(
        "/api/v1/agents/me", HTTP_AUTHORIZATION=f"Bearer {token}", REMOTE_ADDR=address
    )


def test_random_tokens_get_429_with_retry_after(client, personas, settings):
    settings.CAREDESK_API_TOKEN_FAILURE_LIMIT = 20
    settings.CAREDESK_API_TOKEN_FAILURE_WINDOW = 300
    statuses = [_get(client, "cdk_" + secrets.token_urlsafe(32)).status_code for _ in range(200)]
    assert statuses[:20] == [401] * 20
    assert set(statuses[20:]) == {429}
    refused = _get(client, "not-even-a-cdk-token")
    assert refused.status_code == 429 and refused["Retry-After"] == "300"
    assert refused.json()["error"]["code"] == "rate_limited"
    # The right token from the throttled address waits too: guessing must not pay off.
    token = create_token(personas.alice).token
    assert _get(client, token).status_code == 429
    # Another address is unaffected.
    assert _get(client, token, address="198.51.100.2").json()["email"] == "alice@example.test"


def test_successes_do_not_count(client, personas, settings):
    settings.CAREDESK_API_TOKEN_FAILURE_LIMIT = 3
    token = create_token(personas.alice).token
    for _ in range(10):
        assert _get(client, token).status_code == 200
    for _ in range(3):
        assert _get(client, "cdk_wrong").status_code == 401
    assert _get(client, "cdk_wrong").status_code == 429


def test_the_window_ends(client, personas, settings):
    from django.core.cache import cache

    settings.CAREDESK_API_TOKEN_FAILURE_LIMIT = 2
    for _ in range(2):
        assert _get(client, "cdk_wrong").status_code == 401
    assert _get(client, "cdk_wrong").status_code == 429
    cache.clear()  # what the window's expiry does
    token = create_token(personas.alice).token
    assert _get(client, token).status_code == 200
