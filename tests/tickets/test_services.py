"""Agent actions on tickets: transitions, assignment, merge, split, stale edits."""

import pytest

from caredesk.core.errors import Conflict, NotFound, ValidationFailed
from caredesk.tickets.models import EventKind, Message, Status, Ticket
from caredesk.tickets.services import (
    access_ticket,
    assign,
    change_status,
    merge,
    post_message,
    split,
    update_ticket,
    visible_tickets,
)
from tests import factories

pytestmark = pytest.mark.django_db


def test_unknown_transition_is_refused_and_changes_nothing(personas):
    ticket = factories.ticket(team=personas.billing)
    change_status(personas.alice, ticket, Status.CLOSED)
    with pytest.raises(ValidationFailed) as info:
        change_status(personas.alice, ticket, Status.OPEN)
    assert info.value.code == "bad_transition"
    assert Ticket.objects.get(pk=ticket.pk).status == Status.CLOSED


def test_assignment_outside_the_team_is_refused(personas):
    ticket = factories.ticket(team=personas.billing)
    with pytest.raises(ValidationFailed) as info:
        assign(personas.lead, ticket, personas.carol)
    assert info.value.code == "agent_not_in_team"
    assert Ticket.objects.get(pk=ticket.pk).assignee is None


def test_assigning_a_new_ticket_opens_it_and_records_events(personas):
    ticket = factories.ticket(team=personas.billing)
    ticket = assign(personas.lead, ticket, personas.alice)
    assert ticket.status == Status.OPEN
    kinds = list(ticket.events.values_list("kind", flat=True))
    assert EventKind.ASSIGNED in kinds and EventKind.STATUS_CHANGED in kinds


def test_merge_moves_messages_and_closes_source(personas):
    source = factories.ticket(team=personas.billing)
    target = factories.ticket(team=personas.billing)
    merge(personas.alice, source, target)
    source.refresh_from_db()
    assert source.status == Status.CLOSED and source.merged_into_id == target.pk
    assert Message.objects.filter(ticket=target).count() == 2


def test_merge_into_itself_is_refused(personas):
    ticket = factories.ticket()
    with pytest.raises(ValidationFailed):
        merge(personas.alice, ticket, ticket)


def test_split_moves_chosen_messages_to_a_new_ticket(personas):
    ticket = factories.ticket(team=personas.billing)
    reply = post_message(personas.alice, ticket, body_text="Second issue here")
    new = split(personas.alice, ticket, [reply.pk])
    assert list(new.messages.values_list("pk", flat=True)) == [reply.pk]
    assert ticket.messages.count() == 1


def test_stale_edit_is_a_conflict_not_an_overwrite(personas):
    ticket = factories.ticket(team=personas.billing)
    seen_version = ticket.version
    update_ticket(personas.alice, ticket, {"priority": "high"}, expected_version=seen_version)
    with pytest.raises(Conflict):
        update_ticket(personas.bob, ticket, {"priority": "low"}, expected_version=seen_version)
    assert Ticket.objects.get(pk=ticket.pk).priority_name == "high"


def test_empty_reply_is_refused(personas):
    ticket = factories.ticket()
    with pytest.raises(ValidationFailed):
        post_message(personas.alice, ticket, body_text="   ")


def test_reply_to_closed_ticket_is_refused(personas):
    ticket = factories.ticket()
    change_status(personas.alice, ticket, Status.CLOSED)
    with pytest.raises(ValidationFailed) as info:
        post_message(personas.alice, ticket, body_text="hello?")
    assert info.value.code == "ticket_closed"


def test_first_reply_sets_first_response_time(personas):
    ticket = factories.ticket()
    post_message(personas.alice, ticket, body_text="On it")
    ticket.refresh_from_db()
    assert ticket.first_response_at is not None


def test_agents_see_their_teams_only(personas):
    billing_ticket = factories.ticket(team=personas.billing)
    technical_ticket = factories.ticket(team=personas.technical)
    visible = set(visible_tickets(personas.alice).values_list("pk", flat=True))
    assert billing_ticket.pk in visible and technical_ticket.pk not in visible
    with pytest.raises(NotFound):
        access_ticket(personas.alice, technical_ticket.pk)
    assert access_ticket(personas.admin, technical_ticket.pk).pk == technical_ticket.pk


def test_restricted_ticket_hidden_from_plain_agents(personas):
    ticket = factories.ticket(team=personas.billing)
    update_ticket(personas.lead, ticket, {"restricted": True})
    assert not visible_tickets(personas.alice).filter(pk=ticket.pk).exists()
    assert visible_tickets(personas.lead).filter(pk=ticket.pk).exists()


def test_html_is_sanitized(personas):
    ticket = factories.ticket()
    message = post_message(
        personas.alice, ticket, body_html='<p onclick="x()">hi<script>alert(1)</script></p>'
    )
    assert "script" not in message.body_html and "onclick" not in message.body_html
