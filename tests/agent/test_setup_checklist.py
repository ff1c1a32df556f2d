"""The first-run checklist on a new admin's home: each step links to its page and is ticked by
the data itself; an admin can hide it; other agents never see it."""

import pytest

from caredesk.accounts.models import Role, Team, Tier
from caredesk.channels.chat.models import ChatWidget
from caredesk.channels.email.models import Mailbox
from caredesk.sla.models import BusinessHours, SlaPolicy
from tests import factories

pytestmark = pytest.mark.django_db


def _step(page: str, key: str) -> str:
    return page.split(f'data-step="{key}"')[1].split("</li>")[0]


def _done(page: str, key: str) -> bool:
    return page.split(f'data-step="{key}" data-done="')[1].startswith("yes")


@pytest.fixture
def new_admin(client, db):
    admin = factories.agent(
        email="first@example.test", name="First Admin", role=Role.ADMIN, tier=Tier.LEAD
    )
    client.force_login(admin)
    return admin


def test_a_new_admin_home_is_the_checklist_and_it_ticks_as_data_appears(client, new_admin):
    page = client.get("/agent/admin/").content.decode()
    assert "Set up your help desk" in page and "0 of 5 done" in page
    for key, url in [
        ("mailbox", "/agent/admin/mailboxes/"),
        ("hours", "/agent/admin/hours/"),
        ("sla", "/agent/admin/sla/"),
        ("team", "/agent/admin/teams/"),
        ("widget", "/agent/admin/widgets/"),
    ]:
        assert not _done(page, key) and f'href="{url}"' in _step(page, key)

    team = Team.objects.create(name="Support", slug="support")
    page = client.get("/agent/admin/").content.decode()
    assert _done(page, "team") and "(done)" in _step(page, "team") and "1 of 5 done" in page
    assert not _done(page, "mailbox")

    # An inactive mailbox or widget does not count; an active one does.
    Mailbox.objects.create(address="help@shop.example", active=False)
    ChatWidget.objects.create(name="Shop", active=False)
    page = client.get("/agent/admin/").content.decode()
    assert not _done(page, "mailbox") and not _done(page, "widget")
    Mailbox.objects.update(active=True)
    ChatWidget.objects.update(active=True)
    BusinessHours.objects.create(name="Office", team=team, schedule={"0": [["09:00", "17:00"]]})
    page = client.get("/agent/admin/").content.decode()
    assert all(_done(page, k) for k in ("mailbox", "widget", "hours")) and "4 of 5 done" in page

    # The last step done: the admin home goes back to the admin pages.
    SlaPolicy.objects.create(name="Default", first_response_minutes=60)
    home = client.get("/agent/admin/")
    assert home.status_code == 302 and home["Location"] == "/agent/admin/agents/"
    page = client.get("/agent/admin/setup/").content.decode()
    assert "5 of 5 done" in page


def test_the_checklist_can_be_hidden_and_brought_back(client, new_admin):
    response = client.post("/agent/admin/setup/", {"checklist": "hide"})
    assert response.status_code == 302
    home = client.get("/agent/admin/")
    assert home.status_code == 302 and home["Location"] == "/agent/admin/agents/"
    # Hidden for this admin only, still reachable from the admin menu.
    agents = client.get("/agent/admin/agents/").content.decode()
    assert 'href="/agent/admin/setup/"' in agents
    page = client.get("/agent/admin/setup/").content.decode()
    assert "Show this checklist on my admin home again" in page
    other = factories.agent(email="second@example.test", role=Role.ADMIN, tier=Tier.LEAD)
    client.force_login(other)
    assert "Set up your help desk" in client.get("/agent/admin/").content.decode()
    client.force_login(new_admin)
    client.post("/agent/admin/setup/", {"checklist": "show"})
    assert "Set up your help desk" in client.get("/agent/admin/").content.decode()


def test_agents_and_leads_never_see_the_checklist(client, personas):
    client.force_login(personas.alice)
    assert client.get("/agent/admin/").status_code == 403
    page = client.get("/agent/admin/setup/")
    assert page.status_code == 403 and b"Set up your help desk" not in page.content
    client.force_login(personas.lead)
    home = client.get("/agent/admin/")
    assert home.status_code == 302 and home["Location"] == "/agent/admin/triggers/"
    assert client.post("/agent/admin/setup/", {"checklist": "hide"}).status_code == 403
    triggers = client.get("/agent/admin/triggers/").content.decode()
    assert "Setup checklist" not in triggers
