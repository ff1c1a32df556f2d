"""The workspace flow editor: triggers, time-based automations and SLA policies, for team leads
and admins, every rule checked by the domain's validation before it is saved."""

import json

import pytest

from caredesk.automation.models import Automation, Trigger
from caredesk.sla.models import SlaPolicy

pytestmark = pytest.mark.django_db

GOOD_TRIGGER = {
    "name": "VIP first",
    "events": ["created", "message_added"],
    "conditions": json.dumps([{"field": "customer_vip", "op": "is", "value": True}]),
    "actions": json.dumps([{"type": "set", "field": "priority", "value": "urgent"}]),
    "active": "on",
    "position": "1",
}


def errors_of(response):
    return response.content.decode()


def test_a_team_lead_creates_a_trigger(client, personas):
    client.force_login(personas.lead)
    response = client.post("/agent/admin/triggers/", GOOD_TRIGGER)
    assert response.status_code == 302
    trigger = Trigger.objects.get()
    assert trigger.events == ["created", "message_added"]
    assert trigger.conditions == [{"field": "customer_vip", "op": "is", "value": True}]
    assert trigger.active and trigger.position == 1
    page = client.get("/agent/admin/triggers/").content.decode()
    assert "VIP first" in page and "created, message_added" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"conditions": json.dumps([{"field": "shoe_size", "op": "is", "value": 42}])},
            "Unknown condition field &#x27;shoe_size&#x27;.",
        ),
        (
            {"actions": json.dumps([{"type": "launch_rocket"}])},
            "Unknown action &#x27;launch_rocket&#x27;.",
        ),
        (
            {
                "conditions": json.dumps(
                    [
                        {"field": "priority", "op": "is", "value": "low"},
                        {"field": "priority", "op": "is", "value": "high"},
                    ]
                )
            },
            "The conditions can never all hold (priority cannot be two values).",
        ),
        (
            {"actions": json.dumps([{"type": "reply", "value": "Hi {{customer.shoe_size}}"}])},
            "Unknown placeholder {{customer.shoe_size}}.",
        ),
        ({"actions": "[{not json"}, "Enter a valid JSON."),
        ({"actions": json.dumps({"type": "note"})}, "Actions are a list of objects"),
    ],
)
def test_a_bad_trigger_is_refused_with_the_reason_and_nothing_saved(
    client, personas, change, message
):
    client.force_login(personas.lead)
    response = client.post("/agent/admin/triggers/", {**GOOD_TRIGGER, **change})
    assert response.status_code == 422
    assert message in errors_of(response)
    assert 'role="alert"' in errors_of(response)
    assert not Trigger.objects.exists()


def test_editing_a_trigger_keeps_it_valid(client, personas):
    client.force_login(personas.lead)
    client.post("/agent/admin/triggers/", GOOD_TRIGGER)
    trigger = Trigger.objects.get()
    edit = f"/agent/admin/triggers/{trigger.pk}/"
    assert "customer_vip" in client.get(edit).content.decode()  # the rule, as JSON
    refused = client.post(edit, {**GOOD_TRIGGER, "events": ["moon_rise"]})
    assert refused.status_code == 422
    trigger.refresh_from_db()
    assert trigger.events == ["created", "message_added"]
    client.post(edit, {**GOOD_TRIGGER, "active": ""})
    trigger.refresh_from_db()
    assert not trigger.active
    client.post(edit, {"delete": "1"})
    assert not Trigger.objects.exists()


def test_time_based_automation_is_validated(client, personas):
    client.force_login(personas.admin)
    rule = {
        "name": "Solve quiet pending",
        "status": "pending",
        "hours": "240",
        "actions": json.dumps([{"type": "set", "field": "status", "value": "solved"}]),
        "active": "on",
    }
    refused = client.post(
        "/agent/admin/automations/", {**rule, "actions": json.dumps([{"type": "set"}])}
    )
    assert refused.status_code == 422
    assert "A &quot;set&quot; action needs a &quot;field&quot;: one of category, language" in (
        errors_of(refused)
    )
    assert not Automation.objects.exists()
    assert client.post("/agent/admin/automations/", {**rule, "status": "closed"}).status_code == 422
    assert client.post("/agent/admin/automations/", rule).status_code == 302
    assert Automation.objects.get().hours == 240


def test_sla_policy_is_validated(client, personas):
    client.force_login(personas.lead)
    policy = {
        "name": "Urgent",
        "position": "0",
        "active": "on",
        "conditions": json.dumps({"priority": ["urgent"]}),
        "first_response_minutes": "60",
        "resolution_minutes": "480",
        "pause_statuses": ["pending"],
        "warn_before_minutes": "30",
    }
    refused = client.post(
        "/agent/admin/sla/", {**policy, "conditions": json.dumps({"moon_phase": ["full"]})}
    )
    assert refused.status_code == 422
    assert "Unknown SLA condition(s): moon_phase." in errors_of(refused)
    no_targets = client.post(
        "/agent/admin/sla/", {**policy, "first_response_minutes": "", "resolution_minutes": ""}
    )
    assert "Set at least one target" in errors_of(no_targets)
    wrong_shape = client.post(
        "/agent/admin/sla/", {**policy, "conditions": json.dumps({"priority": "urgent"})}
    )
    assert "The priority condition is a list" in errors_of(wrong_shape)
    assert not SlaPolicy.objects.exists()
    assert client.post("/agent/admin/sla/", policy).status_code == 302
    saved = SlaPolicy.objects.get()
    assert saved.conditions == {"priority": ["urgent"]} and saved.pause_statuses == ["pending"]


def test_only_leads_and_admins_shape_the_flow(client, personas):
    client.force_login(personas.alice)
    for section in ("triggers", "automations", "sla"):
        assert client.get(f"/agent/admin/{section}/").status_code == 403
    assert client.post("/agent/admin/triggers/", GOOD_TRIGGER).status_code == 403
    assert not Trigger.objects.exists()
    assert "/agent/admin/" not in client.get("/agent/").content.decode()


def test_a_lead_sees_the_flow_but_not_the_admin_sections(client, personas):
    client.force_login(personas.lead)
    assert client.get("/agent/admin/").url == "/agent/admin/triggers/"
    page = client.get("/agent/admin/triggers/").content.decode()
    assert "SLA policies" in page and "Time-based automations" in page
    assert "/agent/admin/agents/" not in page
    assert client.get("/agent/admin/agents/").status_code == 403
