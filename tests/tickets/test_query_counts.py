"""Statement budgets for the hottest writes: opening a ticket and adding a message to one, each
with the receivers that run on commit. A change that adds a query per message (or re-reads a
ticket's history) fails here. The budgets are the counts measured on SQLite (transactions show as
savepoints inside the test's own transaction)."""

from __future__ import annotations

import pytest

from caredesk.automation.services import active_triggers
from caredesk.tickets import services as tickets
from tests import factories

pytestmark = pytest.mark.django_db


def _line(n: int, **extra: object) -> tickets.InboundMessage:
    return tickets.InboundMessage(
        channel="chat",
        sender=tickets.SenderIdentity("email", "visitor@example.test", "Visitor"),
        body_text=f"line {n}",
        subject="Parcel",
        external_id=f"chat:budget:{n}",
        **extra,  # type: ignore[arg-type]
    )


def test_creating_a_ticket_with_a_message_and_a_tag(
    personas, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    requester = factories.customer(email="known@example.test")
    factories.ticket(requester=requester, tags=["bench"])  # the tag exists, as it usually does
    with django_assert_max_num_queries(CREATE), django_capture_on_commit_callbacks(execute=True):
        tickets.create_ticket(
            personas.admin,
            subject="Damaged order",
            requester=requester,
            body_text="My order arrived damaged.",
            tags=["bench"],
        )


def test_ingesting_a_chat_line_onto_a_ticket(
    personas, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    first = tickets.ingest(_line(0)).ticket
    for n in range(1, 20):  # a long chat must cost no more per line than a short one
        tickets.ingest(_line(n, ticket_hint=first.pk))
    active_triggers()  # compiled once per process, not per line
    with django_assert_max_num_queries(APPEND), django_capture_on_commit_callbacks(execute=True):
        tickets.ingest(_line(99, ticket_hint=first.pk))


def test_a_duplicate_line_is_one_message(personas):
    first = tickets.ingest(_line(0)).ticket
    again = tickets.ingest(_line(0, ticket_hint=first.pk))
    assert again.duplicate and again.ticket.pk == first.pk
    assert first.messages.count() == 1


CREATE = 14
# Whatever the chat's length: the new line's text is appended to the search document, the
# ticket's other messages are not read.
APPEND = 12
