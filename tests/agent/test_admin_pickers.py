"""The rule builder and the SLA form pick teams, agents and organizations by name (never an id
typed), and admin tables say Yes/No instead of True/False."""

import pytest

from caredesk.automation.models import Trigger
from caredesk.customers.models import Organization
from caredesk.sla.models import SlaPolicy
from tests.agent.test_flow_editor import row_of, rows

pytestmark = pytest.mark.django_db


def trigger(conditions, actions, **pickers):
    data = {
        "name": "Route",
        "events": ["created"],
        "active": "on",
        "position": "0",
        **rows("conditions", conditions, ("field", "op", "value")),
        **rows("actions", actions, ("type", "field", "value")),
    }
    data.update(pickers)
    return data


@pytest.fixture
def lead_client(client, personas):
    client.force_login(personas.lead)
    return client


def test_rule_builder_offers_names_not_ids(lead_client, personas):
    page = lead_client.get("/agent/admin/triggers/").content.decode()
    assert "(id)" not in page and "agent id" not in page
    assert f'<option value="{personas.billing.pk}">Billing</option>' in page
    assert f'<option value="{personas.alice.pk}">Alice &lt;alice@example.test&gt;</option>' in page


def test_teams_and_agents_picked_or_typed_by_name_are_stored_as_ids(lead_client, personas):
    acme = Organization.objects.create(name="Acme Corp")
    response = lead_client.post(
        "/agent/admin/triggers/",
        trigger(
            [("team", "is", ""), ("team", "in", "billing, Technical"), ("organization", "is", "")],
            [("assign_team", "", ""), ("assign_agent", "", "alice@example.test")],
            **{
                "conditions-0-team": str(personas.billing.pk),
                "conditions-2-organization": str(acme.pk),
                "actions-0-team": str(personas.technical.pk),
            },
        ),
    )
    assert response.status_code == 302, response.content.decode()[-3000:]
    saved = Trigger.objects.get()
    assert saved.conditions == [
        {"field": "team", "op": "is", "value": personas.billing.pk},
        {"field": "team", "op": "in", "value": [personas.billing.pk, personas.technical.pk]},
        {"field": "organization", "op": "is", "value": acme.pk},
    ]
    assert saved.actions == [
        {"type": "assign_team", "value": personas.technical.pk},
        {"type": "assign_agent", "value": personas.alice.pk},
    ]
    edit = lead_client.get(f"/agent/admin/triggers/{saved.pk}/").content.decode()
    # A single id comes back in its picker, a list as names in the box.
    assert f'<option value="{personas.billing.pk}" selected>Billing</option>' in edit
    assert 'value="Billing, Technical"' in edit
    assert f'<option value="{acme.pk}" selected>Acme Corp</option>' in edit
    assert f'<option value="{personas.technical.pk}" selected>Technical</option>' in edit


def test_an_unknown_name_is_refused_next_to_its_row(lead_client, personas):
    response = lead_client.post(
        "/agent/admin/triggers/",
        trigger([("team", "is", "Nowhere")], [("assign_agent", "", "Zed")]),
    )
    assert response.status_code == 422
    assert "There is no team named “Nowhere”." in row_of(response, "conditions", 0)
    assert "There is no agent named “Zed”." in row_of(response, "actions", 0)
    assert not Trigger.objects.exists()


def test_sla_policy_picks_organizations_by_name(lead_client, personas):
    acme = Organization.objects.create(name="Acme Corp")
    Organization.objects.create(name="Globex")
    page = lead_client.get("/agent/admin/sla/").content.decode()
    assert f'<option value="{acme.pk}">Acme Corp</option>' in page and "ids" not in page
    policy = {
        "name": "Key accounts",
        "position": "0",
        "active": "on",
        "if_organization": [str(acme.pk)],
        "first_response_minutes": "30",
        "warn_before_minutes": "10",
    }
    assert lead_client.post("/agent/admin/sla/", policy).status_code == 302
    saved = SlaPolicy.objects.get()
    assert saved.conditions == {"organization": [acme.pk]}
    edit = lead_client.get(f"/agent/admin/sla/{saved.pk}/").content.decode()
    assert f'<option value="{acme.pk}" selected>Acme Corp</option>' in edit
    listing = lead_client.get("/agent/admin/sla/").content.decode()
    assert '<span class="badge yes">Yes</span>' in listing and "<td>True</td>" not in listing


def test_admin_tables_say_yes_or_no(client, personas):
    client.force_login(personas.admin)
    Trigger.objects.create(name="Off", events=["created"], actions=[], active=False)
    triggers = client.get("/agent/admin/triggers/").content.decode()
    assert '<td><span class="badge">No</span></td>' in triggers and "<td>False</td>" not in triggers
    agents = client.get("/agent/admin/agents/").content.decode()
    assert '<span class="badge yes">Yes</span>' in agents


def test_a_team_picks_its_time_zone_from_the_list(client, personas):
    from caredesk.accounts.models import Team

    client.force_login(personas.admin)
    page = client.get("/agent/admin/teams/").content.decode()
    assert '<option value="America/New_York">America/New York</option>' in page
    bad = client.post(
        "/agent/admin/teams/", {"name": "Nights", "slug": "nights", "time_zone": "Moon/Base"}
    )
    assert bad.status_code == 422 and "Moon/Base is not one of the available choices" in (
        bad.content.decode()
    )
    assert not Team.objects.filter(slug="nights").exists()
    ok = client.post(
        "/agent/admin/teams/", {"name": "Nights", "slug": "nights", "time_zone": "Asia/Tokyo"}
    )
    assert ok.status_code == 302 and Team.objects.get(slug="nights").time_zone == "Asia/Tokyo"
