"""Passwords: argon2 in production, a password policy, and lockout after repeated failures."""

import importlib

import pytest
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from caredesk.compliance.models import AuditEntry
from tests import factories

pytestmark = pytest.mark.django_db


def test_production_hashes_passwords_with_argon2():
    production = importlib.import_module("caredesk.settings")
    assert production.PASSWORD_HASHERS[0] == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.parametrize("weak", ["short", "password123", "12345678901"])
def test_weak_passwords_are_refused(weak):
    with pytest.raises(ValidationError):
        validate_password(weak)


def _login(client, email, password):
    return client.post(
        "/django-admin/login/", {"username": email, "password": password, "next": "/django-admin/"}
    )


def test_account_locks_after_repeated_failures_even_with_the_right_password(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    admin = factories.agent(email="boss@example.test", role="admin")
    for _ in range(3):
        _login(client, admin.email, "wrong password")
    response = _login(client, admin.email, factories.PASSWORD)
    assert response.status_code == 429
    assert (
        b"Too many failed sign-in attempts" in response.content
        or b"too many failed" in response.content.lower()
    )
    assert "_auth_user_id" not in client.session


def test_sign_ins_and_failures_are_audited(client):
    admin = factories.agent(email="root@example.test", role="admin")
    _login(client, admin.email, "nope")
    response = _login(client, admin.email, factories.PASSWORD)
    assert response.status_code == 302
    actions = list(AuditEntry.objects.order_by("id").values_list("action", flat=True))
    assert actions[-2:] == ["auth.login_failed", "auth.login"]
