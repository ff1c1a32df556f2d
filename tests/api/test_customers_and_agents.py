"""Customers, identities, organizations, agents, teams, custom fields."""

import pytest

from caredesk.customers.models import Customer

pytestmark = pytest.mark.django_db


def test_customer_with_identities_and_the_identity_conflict(api_as, personas):
    api = api_as(personas.alice)
    created = api.post(
        "/api/v1/customers",
        {
            "name": "Kim",
            "email": "kim@example.test",
            "identities": [{"kind": "twitter", "value": "@kim"}],
        },
    )
    assert created.status_code == 201
    kim = created.json()
    assert {(i["kind"], i["value"]) for i in kim["identities"]} == {
        ("email", "kim@example.test"),
        ("twitter", "@kim"),
    }
    other = api.post("/api/v1/customers", {"name": "Lee", "email": "lee@example.test"}).json()
    taken = api.post(
        f"/api/v1/customers/{other['id']}/identities",
        {"kind": "email", "value": "KIM@example.test"},
    )
    assert taken.status_code == 409 and taken.json()["error"]["code"] == "identity_taken"
    assert Customer.objects.get(pk=other["id"]).identities.count() == 1
    dup = api.post("/api/v1/customers", {"name": "Kim 2", "email": "kim@example.test"})
    assert dup.status_code == 409


@pytest.mark.parametrize(
    "payload",
    [
        {"email": "bad"},
        {"phone": "not a phone"},
        {"name": "x" * 201},
        {"identities": [{"kind": "pager", "value": "1"}]},
        {"vip": "very"},
    ],
)
def test_customer_bad_input(api_as, personas, payload):
    response = api_as(personas.alice).post("/api/v1/customers", payload)
    assert response.status_code == 422
    assert not Customer.objects.exists()


def test_customer_update_timeline_and_lookup(api_as, personas):
    from tests import factories

    api = api_as(personas.alice)
    ticket = factories.ticket(team=personas.billing)
    customer_id = ticket.requester_id
    patched = api.patch(f"/api/v1/customers/{customer_id}", {"vip": True, "language": "de"}).json()
    assert patched["vip"] is True and patched["language"] == "de"
    timeline = api.get(f"/api/v1/customers/{customer_id}/timeline").json()
    assert timeline[0]["ticket_id"] == ticket.pk
    found = api.get(f"/api/v1/customers?email={ticket.requester.email}").json()["items"]
    assert [c["id"] for c in found] == [customer_id]


def test_organizations(api_as, personas):
    api = api_as(personas.alice)
    org = api.post("/api/v1/organizations", {"name": "Acme", "domain": "acme.test"}).json()
    assert api.post("/api/v1/organizations", {"name": "Acme"}).status_code == 409
    customer = api.post("/api/v1/customers", {"name": "Wile", "email": "wile@acme.test"}).json()
    assert customer["organization_id"] == org["id"]


def test_agents_and_teams_admin_only_writes(api_as, personas):
    assert (
        api_as(personas.alice)
        .post("/api/v1/teams", {"name": "Orders", "slug": "orders"})
        .status_code
        == 403
    )
    admin = api_as(personas.admin)
    team = admin.post("/api/v1/teams", {"name": "Orders", "slug": "orders"}).json()
    agent = admin.post(
        "/api/v1/agents",
        {
            "email": "new@example.test",
            "name": "New",
            "tier": "mid",
            "teams": [team["id"]],
            "skills": ["returns"],
        },
    )
    assert agent.status_code == 201 and agent.json()["skills"] == ["returns"]
    weak = admin.post(
        "/api/v1/agents", {"email": "weak@example.test", "name": "Weak", "password": "123"}
    )
    assert weak.status_code == 422 and weak.json()["error"]["code"] == "weak_password"
    promoted = admin.patch(
        f"/api/v1/agents/{agent.json()['id']}", {"tier": "senior", "role": "lead"}
    ).json()
    assert promoted["tier"] == "senior" and promoted["role"] == "lead"
    assert (
        api_as(personas.alice)
        .patch(f"/api/v1/agents/{personas.alice.pk}", {"role": "admin"})
        .status_code
        == 403
    )


def test_custom_fields_typed_values(api_as, personas):
    from tests import factories

    admin = api_as(personas.admin)
    assert (
        admin.post(
            "/api/v1/custom-fields",
            {"key": "plan", "label": "Plan", "field_type": "choice", "choices": ["free", "pro"]},
        ).status_code
        == 201
    )
    assert (
        api_as(personas.alice).post("/api/v1/custom-fields", {"key": "x", "label": "X"}).status_code
        == 403
    )
    ticket = factories.ticket(team=personas.billing)
    api = api_as(personas.alice)
    ok = api.patch(f"/api/v1/tickets/{ticket.pk}", {"custom_fields": {"plan": "pro"}})
    assert ok.json()["custom_fields"] == {"plan": "pro"}
    bad = api.patch(f"/api/v1/tickets/{ticket.pk}", {"custom_fields": {"plan": "enterprise"}})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "bad_field_value"
