"""@mentions in internal notes notify colleagues who may see the ticket; the bell and its list."""

from __future__ import annotations

import pytest
from django.test import Client

from caredesk.agent import services as workspace
from caredesk.agent.models import Notification
from caredesk.tickets.services import update_ticket
from tests import factories

pytestmark = pytest.mark.django_db


def _client(agent) -> Client:
    client = Client()
    client.force_login(agent)
    return client


def _note(client, ticket, body):
    return client.post(
        f"/agent/tickets/{ticket.pk}/reply/", {"body": body, "internal": "1", "format": "markdown"}
    )


def test_a_note_mentioning_colleagues_notifies_each_once(personas):
    ticket = factories.ticket(team=personas.billing, subject="Refund")
    _note(_client(personas.alice), ticket, "@bob and @Lena, see this. Thanks @bob. (me: @alice)")
    notes = Notification.objects.order_by("recipient__name")
    assert [(n.recipient.name, n.text) for n in notes] == [
        ("Bob", f"Alice mentioned you on #{ticket.pk} Refund"),
        ("Lena Lead", f"Alice mentioned you on #{ticket.pk} Refund"),
    ]
    assert all(n.message.internal and n.read_at is None for n in notes)


def test_public_replies_and_email_addresses_mention_nobody(personas):
    ticket = factories.ticket(team=personas.billing)
    alice = _client(personas.alice)
    alice.post(f"/agent/tickets/{ticket.pk}/reply/", {"body": "Hi @bob"})
    _note(alice, ticket, "Customer wrote from bob@example.test")
    assert not Notification.objects.exists()


def test_nobody_is_told_about_a_ticket_they_may_not_see(personas):
    ticket = factories.ticket(team=personas.billing)
    update_ticket(personas.lead, ticket, {"restricted": True})
    _note(_client(personas.lead), ticket, "@carol @bob @alice have a look")
    # Carol is on another team; Bob and Alice may not see a restricted ticket.
    assert not Notification.objects.exists()
    open_ticket = factories.ticket(team=personas.billing)
    _note(_client(personas.lead), open_ticket, "@carol @bob")
    assert list(Notification.objects.values_list("recipient__name", flat=True)) == ["Bob"]


def test_the_bell_counts_lists_opens_and_marks_read(personas):
    ticket = factories.ticket(team=personas.billing, subject="Broken printer")
    _note(_client(personas.alice), ticket, "@bob please check")
    _note(_client(personas.alice), ticket, "@bob again")
    bob = _client(personas.bob)
    page = bob.get("/agent/").content.decode()
    assert 'hx-get="/agent/notifications/count/"' in page
    assert (
        '<span data-unread="2">2</span>' in bob.get("/agent/notifications/count/").content.decode()
    )
    listing = bob.get("/agent/notifications/").content.decode()
    assert listing.count(f"Alice mentioned you on #{ticket.pk} Broken printer") == 2

    first = Notification.objects.filter(recipient=personas.bob).order_by("id").first()
    opened = bob.get(f"/agent/notifications/{first.pk}/")
    assert opened["Location"] == f"/agent/tickets/{ticket.pk}/#m{first.message_id}"
    assert (
        '<span data-unread="1">1</span>' in bob.get("/agent/notifications/count/").content.decode()
    )
    bob.post("/agent/notifications/", {})
    assert "data-unread" not in bob.get("/agent/notifications/count/").content.decode()
    # Another agent's notification is neither listed nor opened.
    assert _client(personas.carol).get(f"/agent/notifications/{first.pk}/").status_code == 404
    assert (
        "Broken printer"
        not in _client(personas.alice).get("/agent/notifications/").content.decode()
    )


def test_handles_match_email_names_and_unique_first_names(personas):
    factories.agent(email="alice.two@example.test", name="Alice Second", teams=[personas.billing])
    found = workspace.mentioned_agents("@bob. @AliceSecond @alice.two @Lena @ghost", personas.carol)
    assert [a.name for a in found] == ["Bob", "Alice Second", "Lena Lead"]
    # "@Alice" alone: the email handle alice@ wins over the (now shared) first name.
    assert [a.name for a in workspace.mentioned_agents("@Alice", personas.carol)] == ["Alice"]


@pytest.mark.django_db(transaction=True)
def test_a_mention_reaches_the_open_workspace_live(personas):
    from tests.chat.conftest import agent_socket, asynctest, db, receive_until

    ticket = factories.ticket(team=personas.billing, subject="Live one")

    @asynctest
    async def run():
        bob = await agent_socket(personas.bob)
        carol = await agent_socket(personas.carol)
        await db(workspace.send_from_composer)(
            personas.alice, ticket, body_text="@bob @carol look", internal=True
        )
        frame = await receive_until(bob, "notification")
        assert frame["text"] == f"Alice mentioned you on #{ticket.pk} Live one"
        assert frame["url"].startswith(f"/agent/tickets/{ticket.pk}/#m")
        # Carol (another team) hears of no mention.
        assert not [f for f in await _drain(carol) if f["type"] == "notification"]
        await bob.disconnect()
        await carol.disconnect()

    async def _drain(socket):
        frames = []
        while not await socket.receive_nothing(timeout=0.3):
            frames.append(await socket.receive_json_from())
        return frames

    run()


def test_a_ticket_moved_out_of_scope_takes_its_notifications_with_it(personas):
    ticket = factories.ticket(team=personas.billing, subject="Refund for a secret order")
    _note(_client(personas.alice), ticket, "@bob please check")
    assert workspace.unread_notifications(personas.bob) == 1
    update_ticket(personas.lead, ticket, {"team": personas.technical})
    # Bob (Billing only) may no longer see the ticket: neither its subject nor the count remains.
    assert workspace.unread_notifications(personas.bob) == 0
    assert workspace.recent_notifications(personas.bob) == []
    page = _client(personas.bob).get("/agent/notifications/").content.decode()
    assert "secret order" not in page
