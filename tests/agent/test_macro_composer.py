"""Macros go into the composer for review; Send applies them, once."""

from __future__ import annotations

import pytest

from caredesk.automation.models import Macro
from caredesk.tickets.models import Message, Status
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, personas):
    client.force_login(personas.alice)
    return client


@pytest.fixture
def refund_macro(personas):
    return Macro.objects.create(
        name="Refund",
        reply="Hello {{customer.first_name}}, your refund is on its way.",
        changes={"status": "pending", "tags": ["refund"], "priority": "high"},
    )


def test_choosing_a_macro_writes_nothing_and_fills_the_composer(
    alice_client, personas, refund_macro
):
    ticket = factories.ticket(
        team=personas.billing, requester=factories.customer(name="Robin Hood")
    )
    before = Message.objects.filter(ticket=ticket).count()

    draft = alice_client.get(f"/agent/tickets/{ticket.pk}/macro/", {"macro": refund_macro.pk})
    assert draft.status_code == 200
    assert draft.json() == {
        "macro": refund_macro.pk,
        "name": "Refund",
        "body": "Hello Robin, your refund is on its way.",
        "internal": False,
        "status": "pending",
        "changes": ["Set priority to high", "Add tags refund"],
    }
    # Without the script, Apply reloads the page with the macro in the composer.
    page = alice_client.get(f"/agent/tickets/{ticket.pk}/", {"macro": refund_macro.pk})
    html = page.content.decode()
    assert "Hello Robin, your refund is on its way.</textarea>" in html
    assert f'name="macro" value="{refund_macro.pk}"' in html
    assert '<option value="pending" selected>' in html and "Add tags refund" in html

    ticket.refresh_from_db()
    assert Message.objects.filter(ticket=ticket).count() == before
    assert ticket.status != Status.PENDING and ticket.priority_name != "high"
    assert not ticket.tags.exists()


def test_sending_the_composer_applies_the_macro_and_a_second_submit_sends_nothing(
    alice_client, personas, refund_macro
):
    ticket = factories.ticket(team=personas.billing)
    before = Message.objects.filter(ticket=ticket).count()
    form = {
        "body": "Hello, your refund is on its way (edited).",
        "macro": refund_macro.pk,
        "status_after": "pending",
        "draft_key": "draft-1",
    }
    alice_client.post(f"/agent/tickets/{ticket.pk}/reply/", form)
    again = alice_client.post(f"/agent/tickets/{ticket.pk}/reply/", form, follow=True)
    assert "already sent" in again.content.decode()

    sent = list(Message.objects.filter(ticket=ticket).order_by("id")[before:])
    assert [m.body_text for m in sent] == ["Hello, your refund is on its way (edited)."]
    ticket.refresh_from_db()
    assert ticket.status == Status.PENDING and ticket.priority_name == "high"
    assert list(ticket.tags.values_list("name", flat=True)) == ["refund"]


def test_the_agent_s_status_choice_wins_over_the_macro_s(alice_client, personas, refund_macro):
    ticket = factories.ticket(team=personas.billing)
    alice_client.post(
        f"/agent/tickets/{ticket.pk}/reply/",
        {"body": "Done.", "macro": refund_macro.pk, "status_after": "solved", "draft_key": "k"},
    )
    ticket.refresh_from_db()
    assert ticket.status == Status.SOLVED


def test_a_macro_without_text_applies_its_changes_on_send(alice_client, personas):
    macro = Macro.objects.create(name="Wait", changes={"status": "on_hold", "tags": ["waiting"]})
    ticket = factories.ticket(team=personas.billing)
    before = Message.objects.filter(ticket=ticket).count()
    response = alice_client.post(
        f"/agent/tickets/{ticket.pk}/reply/",
        {"body": "", "macro": macro.pk, "status_after": "on_hold", "draft_key": "k2"},
        follow=True,
    )
    assert "Macro changes applied." in response.content.decode()
    ticket.refresh_from_db()
    assert ticket.status == Status.ON_HOLD
    assert list(ticket.tags.values_list("name", flat=True)) == ["waiting"]
    assert Message.objects.filter(ticket=ticket).count() == before


def test_another_agent_s_macro_and_a_missing_one_are_refused(alice_client, personas):
    private = Macro.objects.create(name="Bob's", owner=personas.bob, reply="secret text")
    ticket = factories.ticket(team=personas.billing)
    refused = alice_client.get(f"/agent/tickets/{ticket.pk}/macro/", {"macro": private.pk})
    assert refused.status_code == 422 and "another agent" in refused.json()["error"]
    missing = alice_client.get(f"/agent/tickets/{ticket.pk}/macro/", {"macro": 999999})
    assert missing.status_code == 404
    page = alice_client.get(f"/agent/tickets/{ticket.pk}/", {"macro": private.pk}).content.decode()
    assert "secret text" not in page and "belongs to another agent" in page
    before = Message.objects.filter(ticket=ticket).count()
    alice_client.post(
        f"/agent/tickets/{ticket.pk}/reply/", {"body": "hi", "macro": private.pk, "draft_key": "x"}
    )
    assert Message.objects.filter(ticket=ticket).count() == before


def test_a_macro_for_a_ticket_outside_my_scope_is_404(alice_client, personas, refund_macro):
    elsewhere = factories.ticket(team=personas.technical, requester=factories.customer(name="Zed"))
    response = alice_client.get(f"/agent/tickets/{elsewhere.pk}/macro/", {"macro": refund_macro.pk})
    assert response.status_code == 404 and "Zed" not in response.content.decode()
