"""Presence follows the workspace: an open tab keeps an agent's status, a closed one lets it lapse."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from caredesk.accounts.models import Presence, User
from caredesk.channels.chat import services as chat
from caredesk.channels.chat.models import ChatSession, ChatStatus
from caredesk.channels.chat.tasks import lapse_absent_presence
from tests.chat.conftest import agent_socket, asynctest, db


def stamp(agent: User, seconds_ago: float, presence: str = Presence.ONLINE) -> None:
    User.objects.filter(pk=agent.pk).update(
        presence=presence, presence_seen_at=timezone.now() - timedelta(seconds=seconds_ago)
    )


@pytest.mark.django_db
def test_an_agent_whose_workspace_is_gone_goes_offline_and_the_offer_moves_on(widget, online):
    alice, bob = online.alice, online.bob
    stamp(alice, 600)
    stamp(bob, 5)
    ctx = chat.VisitorContext(widget=widget, visitor_id="v-presence", external_user_id="")
    session, _ = chat.start_chat(ctx, text="Hello?", client_id="c1", email="dana@example.test")
    ChatSession.objects.filter(pk=session.pk).update(offered_to=alice)

    assert chat.lapse_presence() == 1

    alice.refresh_from_db()
    bob.refresh_from_db()
    assert alice.presence == Presence.OFFLINE and bob.presence == Presence.ONLINE
    session.refresh_from_db()
    assert session.status == ChatStatus.WAITING and session.offered_to_id == bob.pk
    assert alice.pk in session.declined_by


@pytest.mark.django_db
def test_away_lapses_too_but_offline_agents_and_hand_set_presence_do_not(personas):
    stamp(personas.alice, 600, Presence.AWAY)
    stamp(personas.bob, 600, Presence.OFFLINE)
    # Set by an admin or the demo data, with no workspace behind it: left as it is.
    User.objects.filter(pk=personas.carol.pk).update(
        presence=Presence.ONLINE, presence_seen_at=None
    )
    assert lapse_absent_presence.call_local() == 1
    presence = dict(User.objects.values_list("email", "presence"))
    assert presence[personas.alice.email] == Presence.OFFLINE
    assert presence[personas.carol.email] == Presence.ONLINE


@pytest.mark.django_db
def test_the_grace_period_is_a_setting(personas, settings):
    settings.CAREDESK_PRESENCE_GRACE_SECONDS = 900
    stamp(personas.alice, 600)
    assert chat.lapse_presence() == 0
    settings.CAREDESK_PRESENCE_GRACE_SECONDS = 300
    assert chat.lapse_presence() == 1


@pytest.mark.django_db
def test_setting_ones_status_in_the_workspace_stamps_it(personas):
    client = Client()
    client.force_login(personas.alice)
    response = client.post("/agent/chats/presence/", {"presence": "online"})
    assert response.status_code in (302, 303), response.content[:300]
    personas.alice.refresh_from_db()
    assert personas.alice.presence == Presence.ONLINE
    assert timezone.now() - personas.alice.presence_seen_at < timedelta(seconds=30)
    assert chat.lapse_presence() == 0


@pytest.mark.django_db(transaction=True)
@asynctest
async def test_an_open_workspace_socket_keeps_presence_from_lapsing(online):
    await db(stamp)(online.alice, 600)
    socket = await agent_socket(online.alice)
    alice = await db(User.objects.get)(pk=online.alice.pk)
    assert timezone.now() - alice.presence_seen_at < timedelta(seconds=30)
    assert await db(chat.lapse_presence)() == 0
    await socket.disconnect()


@pytest.mark.django_db
def test_a_closed_workspace_lapses_within_a_minute_not_the_whole_grace(personas, settings):
    settings.CAREDESK_PRESENCE_GRACE_SECONDS = 600
    stamp(personas.alice, 5)
    now = timezone.now()
    chat.workspace_closed(personas.alice, now)
    # A reload reconnects and restamps at once; without one, the sweep after the short window
    # takes the agent offline.
    assert chat.lapse_presence(now + timedelta(seconds=10)) == 0
    assert chat.lapse_presence(now + timedelta(seconds=chat.CLOSED_WORKSPACE_SECONDS + 1)) == 1
    personas.alice.refresh_from_db()
    assert personas.alice.presence == Presence.OFFLINE


@pytest.mark.django_db
def test_closing_a_workspace_never_revives_an_older_stamp_or_an_offline_agent(personas):
    stamp(personas.alice, 3600)
    chat.workspace_closed(personas.alice)
    seen = User.objects.get(pk=personas.alice.pk).presence_seen_at
    assert timezone.now() - seen >= timedelta(seconds=3590)
    stamp(personas.bob, 5, Presence.OFFLINE)
    chat.workspace_closed(personas.bob)
    assert timezone.now() - User.objects.get(pk=personas.bob.pk).presence_seen_at < timedelta(
        seconds=30
    )


@pytest.mark.django_db(transaction=True)
@asynctest
async def test_disconnecting_the_socket_starts_the_short_lapse(online, settings):
    settings.CAREDESK_PRESENCE_GRACE_SECONDS = 600
    await db(stamp)(online.alice, 5)  # set online a moment ago
    socket = await agent_socket(online.alice)
    await socket.disconnect()
    later = timezone.now() + timedelta(seconds=chat.CLOSED_WORKSPACE_SECONDS + 1)
    assert await db(chat.lapse_presence)(later) == 1
    alice = await db(User.objects.get)(pk=online.alice.pk)
    assert alice.presence == Presence.OFFLINE
