"""Schemathesis against /api/openapi.json: generated requests for every operation never get a
5xx, and every documented response matches its schema."""

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings

from caredesk.accounts.services import create_token
from tests import factories

# Irreversible erasure is left out here and covered by tests/compliance.
schema = schemathesis.from_wsgi(
    "/api/openapi.json", get_wsgi_application(), force_schema_version="30"
).exclude(path_regex=r"/erase$")


@pytest.fixture(autouse=True)
def keep_test_connection():
    """Like Django's test client: the WSGI app must not close the test transaction's connection."""
    from django.core import signals
    from django.db import close_old_connections

    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def admin_token(db):
    billing = factories.team("Billing")
    admin = factories.agent(email="fuzz-admin@example.test", role="admin", teams=[billing])
    ticket = factories.ticket(team=billing)
    factories.ticket(team=billing, requester=ticket.requester)
    return create_token(admin).token


@schema.parametrize()
@settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.django_db(transaction=False)
def test_api_never_answers_5xx_and_matches_its_schema(case, admin_token):
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {admin_token}"}
    response = case.call_wsgi()
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path}: {response.status_code} {response.get_data()[:500]!r}"
    )
    case.validate_response(
        response,
        checks=(
            schemathesis.checks.status_code_conformance,
            schemathesis.checks.content_type_conformance,
            schemathesis.checks.response_schema_conformance,
        ),
    )
