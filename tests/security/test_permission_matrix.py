"""The permission matrix: every API operation (read from the OpenAPI document, so a new endpoint
fails here until it is classified) and every workspace/portal view, for every role, with objects
inside and outside the caller's scope. Expected answers come from the rules below, not by hand."""

import json

import pytest
from django.core.cache import cache
from django.test import Client

from caredesk.accounts.services import create_token
from caredesk.api import api
from caredesk.tickets.models import Attachment, CustomField
from caredesk.tickets.services import InboundAttachment, post_message
from tests import factories

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "read_token", "junior", "lead", "admin"]

# Operations only admins may call (method, path template).
ADMIN_ONLY = {
    ("POST", "/api/v1/agents"),
    ("PATCH", "/api/v1/agents/{agent_id}"),
    ("POST", "/api/v1/teams"),
    ("POST", "/api/v1/custom-fields"),
    ("PATCH", "/api/v1/custom-fields/{field_id}"),
    ("DELETE", "/api/v1/custom-fields/{field_id}"),
    ("POST", "/api/v1/customers/{customer_id}/export"),
    ("POST", "/api/v1/customers/{customer_id}/erase"),
    ("GET", "/api/v1/audit"),
    ("GET", "/api/v1/audit/export"),
    ("GET", "/api/v1/email/quarantine"),
    ("POST", "/api/v1/email/quarantine/{raw_id}/reprocess"),
}
PUBLIC = {("GET", "/api/v1/health")}


def operations():
    schema = api.get_openapi_schema()
    return sorted((method.upper(), path) for path, ops in schema["paths"].items() for method in ops)


@pytest.fixture
def world(personas):
    cache.clear()
    inside = factories.ticket(team=personas.billing, subject="inside")
    outside = factories.ticket(team=personas.technical, subject="outside")
    post_message(
        personas.alice,
        inside,
        body_text="file",
        attachments=[InboundAttachment("a.txt", "text/plain", b"a")],
    )
    post_message(
        personas.carol,
        outside,
        body_text="file",
        attachments=[InboundAttachment("b.txt", "text/plain", b"b")],
    )
    field = CustomField.objects.create(key="plan", label="Plan")
    tokens = {
        "read_token": create_token(personas.bob, scope="read").token,
        "junior": create_token(personas.bob).token,
        "lead": create_token(personas.lead).token,
        "admin": create_token(personas.admin).token,
    }
    return {
        "personas": personas,
        "inside": inside,
        "outside": outside,
        "tokens": tokens,
        "field": field,
        "attachment_in": Attachment.objects.get(message__ticket=inside),
        "attachment_out": Attachment.objects.get(message__ticket=outside),
    }


def fill(path, world, scope):
    ticket = world["inside" if scope == "in" else "outside"]
    values = {
        "ticket_id": ticket.pk,
        "customer_id": ticket.requester_id,
        "agent_id": world["personas"].bob.pk,
        "team_id": world["personas"].billing.pk,
        "field_id": world["field"].pk,
        "org_id": 999999,
        "identity_id": 999999,
        "token_id": 999999,
        "raw_id": 999999,
        "macro_id": 999999,
        "article_id": 999999,
        "file_id": 999999,
        "other_id": 999999,
        "number": 1,
        "attachment_id": world["attachment_in" if scope == "in" else "attachment_out"].pk,
    }
    for key, value in values.items():
        path = path.replace("{" + key + "}", str(value))
    return path


def body(method, path, world):
    p = world["personas"]
    bodies = {
        ("POST", "/api/v1/tickets"): {
            "subject": "x",
            "requester": {"email": "m@example.test"},
            "message": {"body": "b"},
        },
        ("PATCH", "/api/v1/tickets/{ticket_id}"): {"priority": "high"},
        ("POST", "/api/v1/tickets/{ticket_id}/merge"): {"into": world["inside"].pk},
        ("POST", "/api/v1/tickets/{ticket_id}/split"): {"message_ids": [999999]},
        ("POST", "/api/v1/tickets/{ticket_id}/links"): {"target": world["inside"].pk},
        ("POST", "/api/v1/tickets/{ticket_id}/followers"): {"agent": p.bob.pk},
        ("POST", "/api/v1/tickets/{ticket_id}/messages"): {"body": "hello", "internal": True},
        ("POST", "/api/v1/customers"): {"name": "N", "email": "n@example.test"},
        ("PATCH", "/api/v1/customers/{customer_id}"): {"notes": "n"},
        ("POST", "/api/v1/customers/{customer_id}/identities"): {"kind": "twitter", "value": "@n"},
        ("POST", "/api/v1/organizations"): {"name": "Org X"},
        ("PATCH", "/api/v1/organizations/{org_id}"): {"notes": "n"},
        ("POST", "/api/v1/agents"): {"email": "z@example.test", "name": "Z"},
        ("PATCH", "/api/v1/agents/{agent_id}"): {"capacity": 5},
        ("POST", "/api/v1/teams"): {"name": "Z team", "slug": "z-team"},
        ("POST", "/api/v1/custom-fields"): {"key": "k2", "label": "K"},
        ("PATCH", "/api/v1/custom-fields/{field_id}"): {"label": "L"},
        ("POST", "/api/v1/tokens"): {"name": "t"},
        ("POST", "/api/v1/tickets/{ticket_id}/escalate"): {"reason": "needs a senior"},
        ("POST", "/api/v1/kb/articles"): {"title": "Matrix", "body": "x"},
        ("POST", "/api/v1/kb/articles/{article_id}/related"): {"article": "1"},
    }
    return bodies.get((method, path))


def expected(role, method, path, scope):
    """'allow', 'deny' (401/403) or 'hidden' (404)."""
    if (method, path) in PUBLIC:
        return "allow"
    if role == "anonymous":
        return "deny"
    if role == "read_token" and method != "GET":
        return "deny"
    if (method, path) in ADMIN_ONLY and role != "admin":
        return "deny"
    ticket_scoped = "{ticket_id}" in path or "{attachment_id}" in path
    if ticket_scoped and scope == "out" and role in ("junior", "read_token", "lead"):
        return "hidden"
    return "allow"


def cells():
    for method, path in operations():
        for role in ROLES:
            scopes = (
                ["in", "out"] if ("{ticket_id}" in path or "{attachment_id}" in path) else ["in"]
            )
            for scope in scopes:
                yield pytest.param(role, method, path, scope, id=f"{role}-{method}-{path}-{scope}")


@pytest.mark.parametrize(("role", "method", "path", "scope"), list(cells()))
def test_api_permission_matrix(world, role, method, path, scope):
    client = Client()
    headers = (
        {} if role == "anonymous" else {"HTTP_AUTHORIZATION": f"Bearer {world['tokens'][role]}"}
    )
    url = fill(path, world, scope)
    payload = body(method, path, world)
    if (method, path) == ("POST", "/api/v1/tickets/{ticket_id}/merge") and scope == "in":
        payload = {"into": world["outside"].pk}  # merging into a ticket out of scope is hidden too
    if payload is not None:
        response = getattr(client, method.lower())(
            url, data=json.dumps(payload), content_type="application/json", **headers
        )
    else:
        response = getattr(client, method.lower())(url, **headers)
    outcome = expected(role, method, path, scope)
    if (
        (method, path) == ("POST", "/api/v1/tickets/{ticket_id}/merge")
        and scope == "in"
        and outcome == "allow"
        and role != "admin"
    ):
        outcome = "hidden"
    status = response.status_code
    if outcome == "allow":
        assert status not in (401, 403, 404) or (status == 404 and "999999" in url), (
            status,
            response.content[:200],
        )
    elif outcome == "deny":
        assert status in (401, 403), (status, response.content[:200])
    else:
        assert status == 404, (status, response.content[:200])


def test_every_operation_is_classified():
    known_paths = {path for _, path in operations()}
    assert {p for _, p in ADMIN_ONLY} <= known_paths
    assert len(operations()) >= 40


UI_AGENT_VIEWS = [
    ("GET", "/agent/", "allow"),
    ("GET", "/agent/search/?q=x", "allow"),
    ("GET", "/agent/admin/agents/", "admin"),
    ("GET", "/agent/admin/teams/", "admin"),
    ("GET", "/agent/admin/fields/", "admin"),
    ("GET", "/agent/admin/triggers/", "lead"),
    ("GET", "/agent/admin/automations/", "lead"),
    ("GET", "/agent/admin/sla/", "lead"),
    ("GET", "/agent/tickets/{in}/", "allow"),
    ("GET", "/agent/tickets/{out}/", "scoped"),
    ("POST", "/agent/tickets/{out}/reply/", "scoped"),
    ("POST", "/agent/tickets/{out}/update/", "scoped"),
    ("POST", "/agent/tickets/{out}/merge/", "scoped"),
    ("GET", "/agent/tickets/{out}/presence/", "scoped"),
    ("GET", "/agent/tickets/{out}/snippet/?shortcut=x", "scoped"),
    ("GET", "/agent/tickets/{in}/workflow/", "allow"),
    ("GET", "/agent/tickets/{out}/workflow/", "scoped"),
    ("GET", "/agent/tickets/{in}/customer-form/", "allow"),
    ("GET", "/agent/tickets/{out}/customer-form/", "scoped"),
    ("GET", "/agent/notifications/", "allow"),
    ("GET", "/agent/notifications/count/", "allow"),
    ("GET", "/agent/presence-prompt/", "allow"),
    ("POST", "/agent/composer/preview/", "allow"),
    ("GET", "/agent/attachments/{att_out}/", "scoped"),
    ("GET", "/agent/customers/{cust}/", "allow"),
]


@pytest.mark.parametrize("role", ["anonymous", "junior", "lead", "admin"])
@pytest.mark.parametrize(("method", "url", "rule"), UI_AGENT_VIEWS)
def test_workspace_permission_matrix(world, role, method, url, rule):
    p = world["personas"]
    url = url.format(
        **{
            "in": world["inside"].pk,
            "out": world["outside"].pk,
            "att_out": world["attachment_out"].pk,
            "cust": world["inside"].requester_id,
        }
    )
    client = Client()
    if role != "anonymous":
        client.force_login({"junior": p.bob, "lead": p.lead, "admin": p.admin}[role])
    response = (
        client.get(url)
        if method == "GET"
        else client.post(url, {"body": "x", "into": world["inside"].pk})
    )
    if role == "anonymous":
        assert response.status_code == 302 and "/agent/login/" in response["Location"]
    elif rule == "admin":
        assert response.status_code == (200 if role == "admin" else 403)
    elif rule == "lead":
        assert response.status_code == (200 if role in ("lead", "admin") else 403)
    elif rule == "scoped":
        assert (response.status_code == 404) == (role != "admin"), response.status_code
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("who", ["owner", "other_customer", "anonymous"])
def test_portal_permission_matrix(world, who):
    from caredesk.portal.views import SESSION_KEY

    ticket = world["inside"]
    client = Client()
    if who != "anonymous":
        customer = ticket.requester if who == "owner" else factories.customer()
        session = client.session
        session[SESSION_KEY] = customer.pk
        session.save()
    response = client.get(f"/help/requests/{ticket.pk}/")
    attachment = client.get(f"/help/files/{world['attachment_in'].pk}/")
    if who == "owner":
        assert response.status_code == 200 and attachment.status_code == 200
    elif who == "other_customer":
        assert response.status_code == 404 and attachment.status_code == 404
    else:
        assert response.status_code == 302 and attachment.status_code == 302
