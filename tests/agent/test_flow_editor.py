"""The workspace flow editor: triggers, time-based automations and SLA policies, for team leads
and admins, every rule checked by the domain's validation before it is saved."""

import pytest

from caredesk.automation.models import Automation, Trigger
from caredesk.sla.models import SlaPolicy

pytestmark = pytest.mark.django_db


def rows(prefix, items, keys):
    """The POST data of a rule builder's rows."""
    data = {
        f"{prefix}-TOTAL_FORMS": str(len(items)),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }
    for n, item in enumerate(items):
        for key, value in zip(keys, item, strict=True):
            data[f"{prefix}-{n}-{key}"] = value
    return data


def trigger_post(
    conditions=(("customer_vip", "is", "yes"),), actions=(("set", "priority", "urgent"),), **fields
):
    return {
        "name": "VIP first",
        "events": ["created", "message_added"],
        "active": "on",
        "position": "1",
        **rows("conditions", list(conditions), ("field", "op", "value")),
        **rows("actions", list(actions), ("type", "field", "value")),
        **fields,
    }


GOOD_TRIGGER = trigger_post()


def errors_of(response):
    return response.content.decode()


def row_of(response, prefix, n):
    """The HTML of one row of the builder, with the errors shown next to it."""
    for chunk in errors_of(response).split('<div class="rule-row">')[1:]:
        if f'name="{prefix}-{n}-' in chunk:
            return chunk.split("</div>")[0]
    raise AssertionError(f"no row {prefix}-{n}")


def test_a_team_lead_builds_a_trigger_with_the_form(client, personas):
    client.force_login(personas.lead)
    page = client.get("/agent/admin/triggers/").content.decode()
    assert 'name="conditions-0-field"' in page and 'name="actions-0-type"' in page
    assert "<textarea" in page and "JSON" not in page
    response = client.post(
        "/agent/admin/triggers/",
        trigger_post(
            conditions=[
                ("customer_vip", "is", "yes"),
                ("priority", "in", "low, normal"),
                ("reopened_count", "lte", "2"),
            ],
            actions=[("set", "priority", "urgent"), ("add_tags", "", "vip, fast lane")],
        ),
    )
    assert response.status_code == 302
    trigger = Trigger.objects.get()
    assert trigger.events == ["created", "message_added"]
    assert trigger.conditions == [
        {"field": "customer_vip", "op": "is", "value": True},
        {"field": "priority", "op": "in", "value": ["low", "normal"]},
        {"field": "reopened_count", "op": "lte", "value": 2},
    ]
    assert trigger.actions == [
        {"type": "set", "field": "priority", "value": "urgent"},
        {"type": "add_tags", "value": ["vip", "fast lane"]},
    ]
    assert trigger.active and trigger.position == 1
    page = client.get("/agent/admin/triggers/").content.decode()
    assert "VIP first" in page and "created, message_added" in page


def test_a_trigger_built_with_the_form_fires(client, personas, django_capture_on_commit_callbacks):
    from caredesk.tickets.models import Ticket
    from tests import factories

    client.force_login(personas.lead)
    assert client.post("/agent/admin/triggers/", GOOD_TRIGGER).status_code == 302
    vip = factories.customer(vip=True)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(requester=vip, team=personas.billing)
    assert Ticket.objects.get(pk=ticket.pk).priority_name == "urgent"
    with django_capture_on_commit_callbacks(execute=True):
        other = factories.ticket(team=personas.billing)
    assert Ticket.objects.get(pk=other.pk).priority_name == "normal"


@pytest.mark.parametrize(
    ("change", "row", "message"),
    [
        (
            {"conditions": [("shoe_size", "is", "42")]},
            ("conditions", 0),
            "Select a valid choice. shoe_size is not one of the available choices.",
        ),
        (
            {"conditions": [("priority", "between", "low")]},
            ("conditions", 0),
            "Select a valid choice. between is not one of the available choices.",
        ),
        ({"conditions": [("subject", "contains", " ")]}, ("conditions", 0), "Enter a value."),
        (
            {"conditions": [("customer_vip", "is", "yes"), ("reopened_count", "gte", "twice")]},
            ("conditions", 1),
            "reopened_count is a number.",
        ),
        (
            {"conditions": [("subject", "gte", "a")]},
            ("conditions", 0),
            "“at least” and “at most” compare numbers",
        ),
        (
            {"conditions": [("priority", "is", "sky-high")]},
            ("conditions", 0),
            "Priority is low, normal, high or urgent.",
        ),
        (
            {"actions": [("launch_rocket", "", "now")]},
            ("actions", 0),
            "Select a valid choice. launch_rocket is not one of the available choices.",
        ),
        (
            {"actions": [("set", "", "urgent")]},
            ("actions", 0),
            "A &quot;set&quot; action needs a &quot;field&quot;: one of category, language",
        ),
        (
            {"actions": [("note", "", "Hi {{customer.shoe_size}}")]},
            ("actions", 0),
            "Unknown placeholder {{customer.shoe_size}}.",
        ),
        ({"actions": [("reply", "", "")]}, ("actions", 0), "Enter a value."),
        ({"actions": [("assign_team", "", "9999")]}, ("actions", 0), "There is no team"),
        ({"actions": [("webhook", "", "ftp://x")]}, ("actions", 0), "A webhook is an http"),
    ],
)
def test_a_bad_row_is_refused_next_to_the_row_and_nothing_saved(
    client, personas, change, row, message
):
    client.force_login(personas.lead)
    response = client.post("/agent/admin/triggers/", trigger_post(**change))
    assert response.status_code == 422
    shown = row_of(response, *row)
    assert message in shown and 'role="alert"' in shown
    assert not Trigger.objects.exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"conditions": [("priority", "is", "low"), ("priority", "is", "high")]},
            "The conditions can never all hold (priority cannot be two values).",
        ),
        ({"actions": []}, "A trigger needs at least one action."),
        ({"events": []}, "This field is required."),
    ],
)
def test_a_rule_the_service_refuses_shows_why_and_nothing_is_saved(
    client, personas, change, message
):
    client.force_login(personas.lead)
    response = client.post("/agent/admin/triggers/", trigger_post(**change))
    assert response.status_code == 422
    assert message in errors_of(response) and 'role="alert"' in errors_of(response)
    assert not Trigger.objects.exists()


def test_a_trigger_form_needs_the_csrf_token(personas):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(personas.lead)
    assert client.post("/agent/admin/triggers/", GOOD_TRIGGER).status_code == 403
    assert not Trigger.objects.exists()


def test_adding_a_row_without_the_script_asks_the_server(client, personas):
    client.force_login(personas.lead)
    response = client.post("/agent/admin/triggers/", {**GOOD_TRIGGER, "add_row": "conditions"})
    assert response.status_code == 200
    page = errors_of(response)
    assert 'name="conditions-1-field"' in page and 'name="conditions-2-field"' not in page
    assert 'value="yes"' in page  # what was typed stays
    assert not Trigger.objects.exists()


def test_editing_a_trigger_shows_its_rows_and_keeps_it_valid(client, personas):
    client.force_login(personas.lead)
    client.post("/agent/admin/triggers/", GOOD_TRIGGER)
    trigger = Trigger.objects.get()
    edit = f"/agent/admin/triggers/{trigger.pk}/"
    page = client.get(edit).content.decode()
    assert '<option value="customer_vip" selected>' in page
    assert 'name="conditions-0-value" value="yes"' in page
    assert '<option value="priority" selected>' in page  # the field the action sets
    refused = client.post(edit, {**GOOD_TRIGGER, "events": ["moon_rise"]})
    assert refused.status_code == 422
    trigger.refresh_from_db()
    assert trigger.events == ["created", "message_added"]
    removed = {**GOOD_TRIGGER, "active": "", "conditions-0-DELETE": "on"}
    assert client.post(edit, removed).status_code == 302
    trigger.refresh_from_db()
    assert not trigger.active and trigger.conditions == []
    client.post(edit, {"delete": "1"})
    assert not Trigger.objects.exists()


def test_time_based_automation_is_built_with_the_form(client, personas):
    client.force_login(personas.admin)
    rule = {
        "name": "Solve quiet pending",
        "status": "pending",
        "hours": "240",
        "active": "on",
        **rows("actions", [("set", "status", "solved")], ("type", "field", "value")),
    }
    refused = client.post(
        "/agent/admin/automations/",
        {**rule, **rows("actions", [("set", "", "solved")], ("type", "field", "value"))},
    )
    assert refused.status_code == 422
    assert "A &quot;set&quot; action needs a &quot;field&quot;: one of category, language" in (
        row_of(refused, "actions", 0)
    )
    assert not Automation.objects.exists()
    assert client.post("/agent/admin/automations/", {**rule, "status": "closed"}).status_code == 422
    assert client.post("/agent/admin/automations/", rule).status_code == 302
    saved = Automation.objects.get()
    assert saved.hours == 240
    assert saved.actions == [{"type": "set", "field": "status", "value": "solved"}]


def test_sla_policy_is_built_with_checkboxes_and_validated(client, personas):
    client.force_login(personas.lead)
    policy = {
        "name": "Urgent",
        "position": "0",
        "active": "on",
        "if_priority": ["urgent", "high"],
        "if_channel": ["email"],
        "if_team": [str(personas.billing.pk)],
        "if_tags": "refund, outage",
        "if_organization": "",
        "if_vip": "yes",
        "first_response_minutes": "60",
        "resolution_minutes": "480",
        "pause_statuses": ["pending"],
        "warn_before_minutes": "30",
    }
    page = client.get("/agent/admin/sla/").content.decode()
    assert 'name="if_priority"' in page and "JSON" not in page
    no_targets = client.post(
        "/agent/admin/sla/", {**policy, "first_response_minutes": "", "resolution_minutes": ""}
    )
    assert no_targets.status_code == 422
    assert "Set at least one target" in errors_of(no_targets)
    bad_org = client.post("/agent/admin/sla/", {**policy, "if_organization": "acme"})
    assert "“acme” is not a valid value." in errors_of(bad_org)
    bad_priority = client.post("/agent/admin/sla/", {**policy, "if_priority": ["sky-high"]})
    assert "Select a valid choice. sky-high is not one of the available choices." in (
        errors_of(bad_priority)
    )
    assert not SlaPolicy.objects.exists()
    assert client.post("/agent/admin/sla/", policy).status_code == 302
    saved = SlaPolicy.objects.get()
    assert saved.conditions == {
        "priority": ["urgent", "high"],
        "channel": ["email"],
        "team": [personas.billing.pk],
        "tags": ["refund", "outage"],
        "vip": True,
    }
    assert saved.pause_statuses == ["pending"]
    edit = client.get(f"/agent/admin/sla/{saved.pk}/").content.decode()
    assert 'value="refund, outage"' in edit and '<option value="yes" selected>' in edit
    assert client.post(f"/agent/admin/sla/{saved.pk}/", {**policy, "if_vip": "", "if_tags": ""})
    saved.refresh_from_db()
    assert "vip" not in saved.conditions and "tags" not in saved.conditions


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
