"""The HTTP side of chat: widget script, demo page, uploads from the widget, the agent desk."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from caredesk.accounts.models import Presence
from caredesk.channels.chat import services as chat
from caredesk.tickets.models import Attachment, Message


@pytest.fixture
def live_chat(widget, online):
    token = chat.issue_visitor_token()
    ctx = chat.VisitorContext(widget=widget, visitor_id=chat.read_visitor_token(token))
    session, _ = chat.start_chat(
        ctx, text="Hello", client_id="c1", name="Dana", email="dana@example.test"
    )
    return token, session


def test_the_widget_script_is_public_javascript_loadable_from_any_site(client):
    response = client.get("/chat/widget.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"/ws/chat/" in response.content and b"localStorage" in response.content


@pytest.mark.django_db
def test_the_demo_page_embeds_the_widget_with_one_script_tag_and_no_inline_script(client):
    body = client.get("/chat/demo/").content.decode()
    assert '<script src="/chat/widget.js" data-widget="demo" async></script>' in body
    assert body.count("<script") == 1


def upload(client, key, token, session_hex, file, origin="https://shop.example"):
    return client.post(
        f"/chat/upload/{key}/",
        {"visitor": token, "session": session_hex, "file": file},
        HTTP_ORIGIN=origin,
    )


def test_a_visitor_uploads_a_file_into_the_chat(client, live_chat):
    token, session = live_chat
    response = upload(
        client, "shop", token, session.token.hex, SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 x")
    )
    assert response.status_code == 201
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    message = Message.objects.get(pk=response.json()["id"])
    assert message.ticket_id == session.ticket_id
    assert Attachment.objects.get(message=message).filename == "receipt.pdf"


@override_settings(CAREDESK_MAX_ATTACHMENT_BYTES=1024)
def test_bad_uploads_are_refused_clearly_and_store_nothing(client, live_chat):
    token, session = live_chat
    before = Message.objects.count()
    big = upload(
        client, "shop", token, session.token.hex, SimpleUploadedFile("big.pdf", b"x" * 2048)
    )
    assert big.status_code == 413 and "limit" in big.json()["message"]
    exe = upload(client, "shop", token, session.token.hex, SimpleUploadedFile("run.exe", b"MZ"))
    assert exe.status_code == 422
    forged = upload(client, "shop", "forged", session.token.hex, SimpleUploadedFile("a.txt", b"a"))
    assert forged.status_code == 422 and forged.json()["error"] == "bad_visitor"
    other = chat.issue_visitor_token()
    foreign = upload(client, "shop", other, session.token.hex, SimpleUploadedFile("a.txt", b"a"))
    assert foreign.status_code == 404
    evil = upload(
        client,
        "shop",
        token,
        session.token.hex,
        SimpleUploadedFile("a.txt", b"a"),
        origin="https://evil.example",
    )
    assert evil.status_code == 403
    assert Message.objects.count() == before


def test_the_desk_shows_my_chats_side_by_side_and_the_waiting_queue(client, live_chat, online):
    token, session = live_chat
    client.force_login(online.alice)
    waiting = client.get("/agent/chats/").content.decode()
    assert f'data-chat-accept="{session.token.hex}"' in waiting
    chat.accept(online.alice, session.token.hex)
    desk = client.get("/agent/chats/").content.decode()
    assert f'class="chat-column" data-session="{session.token.hex}"' in desk
    assert "Hello" in desk
    # The customer sidebar: contact details and the earlier requests of this customer.
    assert "dana@example.test" in desk and "Earlier requests" in desk


def test_an_agent_of_another_team_gets_no_chat_column(client, live_chat, online):
    token, session = live_chat
    client.force_login(online.carol)
    assert client.get(f"/agent/chats/{session.token.hex}/column/").status_code == 403
    assert client.get("/agent/chats/not-a-token/column/").status_code == 404


def test_transfer_to_an_agent_outside_the_team_is_refused_and_to_a_team_works(
    client, live_chat, online
):
    token, session = live_chat
    chat.accept(online.alice, session.token.hex)
    client.force_login(online.alice)
    refused = client.post(f"/agent/chats/{session.token.hex}/transfer/", {"agent": online.carol.pk})
    assert refused.status_code == 422 and "not in Billing" in refused.json()["message"]
    moved = client.post(
        f"/agent/chats/{session.token.hex}/transfer/",
        {"team": online.technical.pk, "note": "Needs a technician"},
    )
    assert moved.status_code == 200
    session.refresh_from_db()
    session.ticket.refresh_from_db()
    assert session.status == "waiting" and session.team_id == online.technical.pk
    assert session.ticket.team_id == online.technical.pk and session.ticket.assignee_id is None
    note = session.ticket.messages.filter(internal=True).get()
    assert "Needs a technician" in note.body_text


def test_presence_is_set_from_the_desk_and_a_bad_value_is_refused(client, personas):
    client.force_login(personas.carol)
    assert client.post("/agent/chats/presence/", {"presence": "online"}).status_code == 302
    personas.carol.refresh_from_db()
    assert personas.carol.presence == Presence.ONLINE
    assert client.post("/agent/chats/presence/", {"presence": "asleep"}).status_code == 422


def test_going_online_picks_up_waiting_chats_and_going_offline_hands_offers_on(widget, personas):
    token = chat.issue_visitor_token()
    ctx = chat.VisitorContext(widget=widget, visitor_id=chat.read_visitor_token(token))
    session, _ = chat.start_chat(ctx, text="Anyone?", client_id="c1", email="x@example.test")
    session.refresh_from_db()
    assert session.offered_to_id is None  # nobody online: it waits in the queue
    chat.set_presence(personas.alice, Presence.ONLINE)
    session.refresh_from_db()
    assert session.offered_to_id == personas.alice.pk
    chat.set_presence(personas.bob, Presence.ONLINE)
    chat.set_presence(personas.alice, Presence.OFFLINE)
    session.refresh_from_db()
    assert session.offered_to_id == personas.bob.pk and personas.alice.pk in session.declined_by


def test_unanswered_offers_move_on_after_the_timeout(widget, online):
    from datetime import timedelta

    from django.utils import timezone

    token = chat.issue_visitor_token()
    ctx = chat.VisitorContext(widget=widget, visitor_id=chat.read_visitor_token(token))
    session, _ = chat.start_chat(ctx, text="Hi", client_id="c1", email="x@example.test")
    session.refresh_from_db()
    first = session.offered_to_id
    assert chat.reoffer_stale() == 0  # not stale yet
    later = timezone.now() + timedelta(seconds=chat.OFFER_TIMEOUT_SECONDS + 1)
    assert chat.reoffer_stale(now=later) == 1
    session.refresh_from_db()
    assert session.offered_to_id not in (None, first) and first in session.declined_by


def test_chat_capacity_shares_the_one_capacity_model(widget, online):
    """Capacity 10 async units; a chat weighs 10/3, so an agent holds 3 chats at most."""
    alice = online.alice
    for agent in (online.bob,):
        agent.presence = Presence.OFFLINE
        agent.save(update_fields=["presence"])
    for i in range(3):
        token = chat.issue_visitor_token()
        ctx = chat.VisitorContext(widget=widget, visitor_id=chat.read_visitor_token(token))
        s, _ = chat.start_chat(ctx, text="Hi", client_id="c1", email=f"v{i}@example.test")
        chat.accept(alice, s.token.hex)
    assert [a.pk for a in chat.available_agents(widget.team)] == []


def test_an_admin_configures_a_widget_in_the_workspace_and_bad_settings_are_refused(
    client, personas
):
    from caredesk.channels.chat.models import ChatWidget

    client.force_login(personas.admin)
    good = {
        "name": "Shop",
        "key": "shop-eu",
        "team": personas.billing.pk,
        "allowed_origins": "https://shop.example\n",
        "identity_secret": "s3cret",
        "color": "#123456",
        "greeting": "Hi",
        "position": "left",
        "require_email": "on",
        "topics": "Orders\nBilling",
        "offline_message": "Away",
        "active": "on",
    }
    bad = {**good, "key": "bad", "color": "red", "allowed_origins": "https://shop.example/path"}
    refused = client.post("/agent/admin/widgets/", bad)
    assert refused.status_code == 422 and not ChatWidget.objects.filter(key="bad").exists()
    body = refused.content.decode()
    assert "A colour like #1d4ed8." in body and "scheme and host, no path" in body
    assert client.post("/agent/admin/widgets/", good).status_code == 302
    widget = ChatWidget.objects.get(key="shop-eu")
    assert widget.allowed_origins == ["https://shop.example"] and widget.identity_secret == "s3cret"
    assert widget.topics == ["Orders", "Billing"]
    # Lists are edited one a line, not as JSON.
    edit = client.get(f"/agent/admin/widgets/{widget.pk}/").content.decode()
    assert "Orders\nBilling</textarea>" in edit and "[&quot;" not in edit
    # Saving again with the secret left blank keeps it.
    client.post(f"/agent/admin/widgets/{widget.pk}/", {**good, "identity_secret": ""})
    widget.refresh_from_db()
    assert widget.identity_secret == "s3cret"
    client.force_login(personas.alice)
    assert client.get("/agent/admin/widgets/").status_code == 403
