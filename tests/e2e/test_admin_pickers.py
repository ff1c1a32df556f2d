"""In a real browser: a macro's changes are built as rows whose value picker follows the chosen
field, and the rule builder shows a team picker (not a typed id) for "Move to team"."""

import pytest
from playwright.sync_api import expect

from caredesk.accounts.models import Role, Tier
from caredesk.automation.models import Macro, Trigger
from tests import factories
from tests.e2e.conftest import sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_admin_builds_a_macro_with_pickers(page, live_server):
    billing = factories.team("Billing")
    admin = factories.agent(
        email="ada@example.test", name="Ada Admin", role=Role.ADMIN, tier=Tier.LEAD
    )
    sign_in(page, live_server.url, admin.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/admin/macros/")
    page.get_by_label("Name").fill("Hand to billing")
    page.locator("select[name='changes-0-field']").select_option("status")
    expect(page.locator("select[name='changes-0-status']")).to_be_visible()
    expect(page.locator("select[name='changes-0-team']")).to_be_hidden()
    page.locator("select[name='changes-0-status']").select_option("pending")
    page.get_by_role("button", name="Add a change").click()
    page.locator("select[name='changes-1-field']").select_option("team")
    expect(page.locator("select[name='changes-1-status']")).to_be_hidden()
    page.locator("select[name='changes-1-team']").select_option(label="Billing")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Hand to billing”.")).to_be_visible()
    assert Macro.objects.get().changes == {"status": "pending", "team": billing.pk}


def test_the_rule_builder_picks_a_team_by_name(page, live_server):
    billing = factories.team("Billing")
    lead = factories.agent(
        email="lena@example.test", name="Lena Lead", role=Role.LEAD, tier=Tier.LEAD, teams=[billing]
    )
    sign_in(page, live_server.url, lead.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/admin/triggers/")
    page.get_by_label("Name").fill("Billing words")
    page.get_by_label("Created").check()
    page.locator("select[name='conditions-0-field']").select_option("subject")
    page.locator("select[name='conditions-0-op']").select_option("contains")
    page.locator("input[name='conditions-0-value']").fill("invoice")
    expect(page.locator("select[name='conditions-0-team']")).to_be_hidden()
    page.locator("select[name='actions-0-type']").select_option("assign_team")
    expect(page.locator("textarea[name='actions-0-value']")).to_be_hidden()
    page.locator("select[name='actions-0-team']").select_option(label="Billing")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved “Billing words”.")).to_be_visible()
    assert Trigger.objects.get().actions == [{"type": "assign_team", "value": billing.pk}]
