"""A team lead builds a trigger with the rule builder's selects and inputs in a real browser
(rows added by the page's script, the "field to set" shown only for "Set field"), and it fires."""

import pytest
from playwright.sync_api import expect

from caredesk.accounts.models import Role, Tier
from caredesk.automation.models import Trigger
from caredesk.tickets.models import Ticket
from tests import factories
from tests.e2e.conftest import screenshot, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_lead_builds_a_trigger_that_fires(page, live_server):
    team = factories.team("Billing")
    lead = factories.agent(
        email="lena@example.test", name="Lena Lead", role=Role.LEAD, tier=Tier.LEAD, teams=[team]
    )
    sign_in(page, live_server.url, lead.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/admin/triggers/")

    page.get_by_label("Name").fill("VIP parcels")
    page.get_by_label("Created").check()
    page.locator("select[name='conditions-0-field']").select_option("customer_vip")
    page.locator("select[name='conditions-0-op']").select_option("is")
    page.locator("input[name='conditions-0-value']").fill("yes")
    page.get_by_role("button", name="Add a condition").click()
    page.locator("select[name='conditions-1-field']").select_option("subject")
    page.locator("select[name='conditions-1-op']").select_option("contains")
    page.locator("input[name='conditions-1-value']").fill("parcel")

    page.locator("select[name='actions-0-type']").select_option("set")
    set_field = page.locator("select[name='actions-0-field']")
    expect(set_field).to_be_visible()
    set_field.select_option("priority")
    page.locator("textarea[name='actions-0-value']").fill("urgent")
    page.get_by_role("button", name="Add an action").click()
    page.locator("select[name='actions-1-type']").select_option("add_tags")
    expect(page.locator("select[name='actions-1-field']")).to_be_hidden()
    page.locator("textarea[name='actions-1-value']").fill("vip, parcel")
    page.locator("#rule-builder").scroll_into_view_if_needed()
    screenshot(page, "rule-builder.png")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “VIP parcels”.")).to_be_visible()

    trigger = Trigger.objects.get()
    assert trigger.events == ["created"]
    assert trigger.conditions == [
        {"field": "customer_vip", "op": "is", "value": True},
        {"field": "subject", "op": "contains", "value": "parcel"},
    ]
    vip = factories.customer(vip=True)
    fired = factories.ticket(requester=vip, team=team, subject="Where is my parcel?")
    quiet = factories.ticket(team=team, subject="Where is my parcel?")
    fired, quiet = Ticket.objects.get(pk=fired.pk), Ticket.objects.get(pk=quiet.pk)
    assert fired.priority_name == "urgent"
    assert set(fired.tags.values_list("name", flat=True)) == {"vip", "parcel"}
    assert quiet.priority_name == "normal" and not quiet.tags.exists()

    # A bad row comes back with its error next to it.
    page.goto(f"{live_server.url}/agent/admin/triggers/{trigger.pk}/")
    page.locator("input[name='conditions-0-value']").fill("maybe")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("VIP is yes or no.")).to_be_visible()
