"""A ticket's search document follows every change in the transaction that makes it: new tickets,
each new message or note (appended, without re-reading the ticket's other messages), subject
edits, merges and splits; a rolled-back change leaves it as it was."""

from __future__ import annotations

import pytest
from django.db import transaction

from caredesk.search import services
from caredesk.search.models import SearchDocument
from caredesk.search.services import search
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Message
from tests import factories

pytestmark = pytest.mark.django_db


def _document(ticket_id: int) -> SearchDocument:
    return SearchDocument.objects.get(kind="ticket", object_id=ticket_id)


def _rebuilt(ticket_id: int) -> tuple[str, str]:
    """What a full rebuild from the stored messages makes of the document."""
    services.index_ticket(ticket_id)
    document = _document(ticket_id)
    return document.title, document.body


def _line(ticket_id: int, text: str, n: int) -> tickets.IngestResult:
    return tickets.ingest(
        tickets.InboundMessage(
            channel="chat",
            sender=tickets.SenderIdentity("email", "visitor@example.test", "Visitor"),
            body_text=text,
            external_id=f"chat:test:{n}",
            ticket_hint=ticket_id,
        )
    )


def test_a_new_ticket_is_indexed_with_its_first_message(personas):
    ticket = factories.ticket(subject="Broken kettle", body="The kettle leaks water")
    document = _document(ticket.pk)
    assert (document.title, document.body) == ("Broken kettle", "The kettle leaks water")
    assert [h.id for h in search("kettle", agent=personas.admin, types=["ticket"])] == [ticket.pk]


def test_appended_lines_make_the_same_document_as_a_rebuild(personas):
    first = tickets.ingest(
        tickets.InboundMessage(
            channel="chat",
            sender=tickets.SenderIdentity("email", "visitor@example.test", "Visitor"),
            body_text="hello",
            external_id="chat:test:0",
        )
    ).ticket
    for n in range(1, 6):
        _line(first.pk, f"line number {n} about a zeppelin{n}", n)
    tickets.post_message(personas.admin, first, body_text="internal remark", internal=True)
    appended = _document(first.pk)
    texts = list(
        Message.objects.filter(ticket=first).order_by("id").values_list("body_text", flat=True)
    )
    assert appended.body == "\n".join(texts)
    assert (appended.title, appended.body) == _rebuilt(first.pk)
    assert [h.id for h in search("zeppelin5", agent=personas.admin, types=["ticket"])] == [first.pk]


def test_a_rolled_back_message_leaves_the_document_unchanged(personas):
    ticket = factories.ticket(body="original words")
    with pytest.raises(RuntimeError), transaction.atomic():
        tickets.post_message(personas.admin, ticket, body_text="never committed")
        raise RuntimeError
    assert _document(ticket.pk).body == "original words"


def test_a_ticket_without_a_document_is_rebuilt_on_its_next_message(personas):
    ticket = factories.ticket(body="older text")
    services.remove_document("ticket", ticket.pk)
    tickets.post_message(personas.admin, ticket, body_text="newer text")
    assert _document(ticket.pk).body == "older text\nnewer text"


def test_subject_edits_retitle_and_keep_the_body(personas):
    ticket = factories.ticket(subject="Old subject", body="the body")
    tickets.update_ticket(personas.admin, ticket, {"subject": "Invoice missing"})
    document = _document(ticket.pk)
    assert (document.title, document.body) == ("Invoice missing", "the body")


def test_merge_and_split_move_the_text_between_documents(personas):
    source = factories.ticket(body="source words alpha")
    target = factories.ticket(body="target words beta")
    tickets.merge(personas.admin, source, target)
    assert "source words alpha" in _document(target.pk).body
    assert _document(source.pk).body == ""
    moved = Message.objects.filter(ticket=target, body_text="source words alpha").get()
    new = tickets.split(personas.admin, target, [moved.pk])
    assert _document(new.pk).body == "source words alpha"
    assert _document(target.pk).body == "target words beta"
