"""Schemathesis against /api/openapi.json: generated requests (valid and invalid) for every
operation never get a 5xx, and every documented response matches its schema.

Random ids almost never name a row, so half the generated cases have their integer path ids
replaced by rows that exist: the bodies and queries then reach the code that writes."""

import itertools

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from caredesk.accounts.services import create_token
from tests import factories

# Irreversible erasure is left out here and covered by tests/compliance.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application()).exclude(
    path_regex=r"/erase$"
)


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
def world(db):
    """The admin's token and one existing row for each kind of path id."""
    from caredesk.automation.models import Macro
    from caredesk.knowledge.services import add_related, create_article
    from caredesk.tickets.models import CustomField

    billing = factories.team("Billing")
    admin = factories.agent(email="fuzz-admin@example.test", role="admin", teams=[billing])
    bob = factories.agent(email="fuzz-bob@example.test", teams=[billing])
    org = factories.organization("Acme", domain="acme.test")
    ticket = factories.ticket(team=billing)
    factories.ticket(team=billing, requester=ticket.requester)
    refunds = create_article(admin, title="Refunds", body="How refunds work.")
    returns = create_article(admin, title="Returns", body="How returns work.")
    add_related(admin, refunds, returns)
    ids = {
        "ticket_id": ticket.pk,
        "customer_id": ticket.requester_id,
        "identity_id": ticket.requester.identities.first().pk,
        "org_id": org.pk,
        "agent_id": bob.pk,
        "team_id": billing.pk,
        "field_id": CustomField.objects.create(key="plan", label="Plan").pk,
        "article_id": refunds.pk,
        "other_id": returns.pk,
        "number": 1,
        "macro_id": Macro.objects.create(name="Thanks", reply="Thank you!").pk,
        # A second token: revoking the one the fuzzer signs in with would end the run.
        "token_id": create_token(admin, name="spare").record.pk,
    }
    return create_token(admin).token, ids


_turn = itertools.count()


@schema.parametrize()
@settings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@pytest.mark.django_db(transaction=False)
def test_api_never_answers_5xx_and_matches_its_schema(case, world):
    token, ids = world
    case.headers = {**(case.headers or {}), "Authorization": f"Bearer {token}"}
    if case.path_parameters and next(_turn) % 2:
        for name, value in case.path_parameters.items():
            if isinstance(value, int) and name in ids:
                case.path_parameters[name] = ids[name]
    response = case.call()
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
