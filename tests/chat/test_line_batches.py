"""Visitors' lines stored a batch at a time (group commit): each line once, in order, with its
event; a refused batch acknowledges nobody and loses nothing; a fixed number of queries a batch."""

from __future__ import annotations

import uuid

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from caredesk.channels.chat import services as chat
from caredesk.channels.chat import writer as chat_writer
from caredesk.channels.chat.models import ChatSession
from caredesk.core.group_commit import Pending
from caredesk.search.models import SearchDocument
from caredesk.tickets import changes as contract
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Channel, EventKind, Message, Status, Ticket, TicketEvent
from tests.chat.conftest import asynctest, db, receive_until, reply_for, send, visitor

pytestmark = [pytest.mark.django_db(transaction=True)]


def open_chat(widget, n: int) -> tuple[chat.VisitorContext, ChatSession]:
    ctx = chat.VisitorContext(widget=widget, visitor_id=uuid.uuid4().hex)
    session, _ = chat.start_chat(
        ctx, text=f"Hello from {n}", client_id="start", email=f"v{n}@example.test"
    )
    return ctx, session


def line(ctx, session, client_id, text=None):
    return chat.visitor_line(ctx, session, text=text or f"line {client_id}", client_id=client_id)


def chats(widget, count):
    return [open_chat(widget, n) for n in range(count)]


def test_a_batch_stores_each_line_once_in_order_with_its_event_and_acks_after_commit(widget):
    (ctx_a, a), (ctx_b, b), (ctx_c, c) = chats(widget, 3)
    lines = [
        line(ctx, session, f"{name}{k}")
        for k in range(3)
        for name, (ctx, session) in zip("abc", [(ctx_a, a), (ctx_b, b), (ctx_c, c)], strict=True)
    ]
    versions = {t.pk: t.version for t in Ticket.objects.all()}
    acked: list[list[chat.LineResult]] = []
    results = chat.store_visitor_lines(lines, committed=acked.append)

    assert acked == [results]  # once, after the commit, with every line's answer
    assert all(r.error is None and not r.duplicate and r.message_id for r in results)
    for name, session in zip("abc", (a, b, c), strict=True):
        stored = list(
            Message.objects.filter(ticket_id=session.ticket_id).exclude(
                external_id__endswith="start"
            )
        )
        assert [m.body_text for m in stored] == [f"line {name}{k}" for k in range(3)]
        assert [m.pk for m in stored] == sorted(m.pk for m in stored)
        assert all(
            m.channel == Channel.CHAT and m.author_customer_id == session.customer_id
            for m in stored
        )
        assert [m.external_id for m in stored] == [
            f"chat:{session.token.hex}:{name}{k}" for k in range(3)
        ]
        events = TicketEvent.objects.filter(
            ticket_id=session.ticket_id, kind=EventKind.MESSAGE_ADDED
        ).order_by("id")
        assert [e.data["message_id"] for e in events][1:] == [m.pk for m in stored]
        assert all(e.actor_customer_id == session.customer_id for e in events)
        ticket = Ticket.objects.get(pk=session.ticket_id)
        assert ticket.last_customer_message_at == stored[-1].created_at
        assert ticket.version == versions[ticket.pk] + 1  # one update per ticket and batch
        document = SearchDocument.objects.get(kind="ticket", object_id=ticket.pk)
        assert document.body.endswith("\n".join(m.body_text for m in stored))
    assert [r.message_id for r in results] == sorted(r.message_id for r in results)


def test_the_same_client_id_twice_in_a_batch_is_stored_once(widget):
    (ctx, session), (ctx2, other) = chats(widget, 2)
    done = chat.store_visitor_lines([line(ctx, session, "old")])
    lines = [
        line(ctx, session, "x"),
        line(ctx2, other, "y"),
        line(ctx, session, "x"),  # resent before its ack arrived
        line(ctx, session, "old"),  # stored by an earlier batch
    ]
    results = chat.store_visitor_lines(lines)
    assert results[2].message_id == results[0].message_id and results[2].duplicate
    assert not results[0].duplicate
    assert results[3].message_id == done[0].message_id and results[3].duplicate
    assert Message.objects.filter(external_id=f"chat:{session.token.hex}:x").count() == 1
    assert Message.objects.filter(ticket_id=session.ticket_id).count() == 3  # start, old, x


def test_a_failing_batch_acks_nobody_and_stores_nothing(widget, monkeypatch):
    (ctx, session), (ctx2, other) = chats(widget, 2)
    before = (Message.objects.count(), TicketEvent.objects.count())

    def refuse(texts):
        raise DatabaseError("disk I/O error")

    monkeypatch.setattr("caredesk.search.services.append_to_tickets", refuse)
    acked: list = []
    lines = [line(ctx, session, "p"), line(ctx2, other, "q")]
    with pytest.raises(DatabaseError):
        chat.store_visitor_lines(lines, committed=acked.append)
    assert acked == []
    assert (Message.objects.count(), TicketEvent.objects.count()) == before
    monkeypatch.undo()
    results = chat.store_visitor_lines(lines, committed=acked.append)  # the widgets resend
    assert acked == [results] and all(r.message_id and not r.duplicate for r in results)
    assert Message.objects.count() == before[0] + 2


@asynctest
async def test_a_refused_batch_answers_unavailable_and_the_resend_is_stored_once(
    widget, online, monkeypatch
):
    comm, _, _ = await visitor()
    await receive_until(comm, "hello")
    await send(comm, type="start", client_id="c1", text="Hi", email="dana@example.test")
    started = await receive_until(comm, "started")
    await receive_until(comm, "ack", client_id="c1")

    def refuse(lines, *, committed=None):
        raise DatabaseError("database is locked")

    monkeypatch.setattr(chat, "store_visitor_lines", refuse)
    await send(comm, type="message", client_id="c2", text="Are you there?")
    answer = await reply_for(comm, "c2")
    assert answer["type"] == "error" and answer["code"] == "unavailable"
    session = await db(ChatSession.objects.get)(token=started["session"])
    assert not await db(Message.objects.filter(external_id__endswith=":c2").exists)()
    monkeypatch.undo()
    await send(comm, type="message", client_id="c2", text="Are you there?")
    ack = await reply_for(comm, "c2")
    assert ack["type"] == "ack"
    await send(comm, type="message", client_id="c2", text="Are you there?")
    again = await reply_for(comm, "c2")
    assert again == ack
    count = await db(Message.objects.filter(ticket_id=session.ticket_id).count)()
    assert count == 2
    await comm.disconnect()


def test_the_writer_answers_every_line_of_a_refused_batch(widget, monkeypatch):
    (ctx, session), (ctx2, other) = chats(widget, 2)
    answers: list = []

    class Loop:  # stands for the consumers' event loop: told once for the whole batch
        def call_soon_threadsafe(self, fn, batch_answers):
            answers.append([result for _, result in batch_answers])

    loop = Loop()
    monkeypatch.setattr(chat, "store_visitor_lines", lambda lines, committed=None: 1 / 0)
    chat_writer.LineWriter()._write(
        [
            Pending(line(ctx, session, "a"), loop, None),
            Pending(line(ctx2, other, "b"), loop, None),
        ]
    )
    assert len(answers) == 1
    answers = answers[0]
    assert [a.error.code for a in answers] == ["unavailable", "unavailable"]
    assert not Message.objects.filter(external_id__endswith=":a").exists()


def test_a_batch_costs_the_same_queries_for_2_lines_as_for_40(widget, monkeypatch):
    from caredesk.automation import services as automation

    # The triggers' receiver asks whether the triggers changed once a second: on a slow machine
    # that look-up could fall in either batch and be counted as the batch's.
    monkeypatch.setattr(automation, "RECHECK_SECONDS", 3600.0)
    opened = chats(widget, 22)

    def run(pairs, tag):
        lines = [line(ctx, session, f"{tag}{k}") for k, (ctx, session) in enumerate(pairs)]
        with CaptureQueriesContext(connection) as captured:
            results = chat.store_visitor_lines(lines)
        assert all(r.message_id for r in results)
        return len(captured)

    run(opened[:2], "warm")  # the first batch of a process compiles what it keeps
    small = run(opened[:2], "s")
    large = run([opened[2 + k % 20] for k in range(40)], "l")  # 40 lines on 20 tickets
    assert small == large, (small, large)
    assert Message.objects.filter(external_id__contains=":l").count() == 40


def test_a_batch_is_announced_once_for_all_its_tickets(widget):
    opened = chats(widget, 3)
    batches: list = []
    contract.register("test-batches", batches.append, order=0)
    try:
        chat.store_visitor_lines([line(ctx, s, f"n{k}") for k in range(2) for ctx, s in opened])
    finally:
        contract.unregister("test-batches")
    assert len(batches) == 1
    assert sorted(c.ticket_id for c in batches[0]) == sorted(s.ticket_id for _, s in opened)
    assert all(c.kinds == [EventKind.MESSAGE_ADDED] * 2 for c in batches[0])
    # The visitor's session already showed the lines: the widget delivery must not echo them.
    assert all(c.channel == Channel.CHAT and c.delivered_live for c in batches[0])


def test_lines_on_a_solved_ticket_reopen_it_and_bad_lines_are_refused_alone(widget, personas):
    (ctx, solved), (ctx2, plain), (ctx3, ended) = chats(widget, 3)
    ticket = Ticket.objects.get(pk=solved.ticket_id)
    tickets.change_status(personas.alice, ticket, Status.SOLVED)
    chat.end_chat(ended, by="visitor")
    stranger = chat.VisitorContext(widget=widget, visitor_id=uuid.uuid4().hex)
    results = chat.store_visitor_lines(
        [
            line(ctx, solved, "r1"),
            line(ctx2, plain, "p1"),
            line(ctx3, ended, "e1"),
            line(stranger, plain, "s1"),  # someone else's chat
            line(ctx, solved, "r2"),
        ]
    )
    assert results[0].message_id and results[1].message_id and results[4].message_id
    assert results[2].error.code == "chat_ended"
    assert results[3].error.code == "not_found"
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN and ticket.reopened_count == 1
    texts = list(
        Message.objects.filter(ticket_id=ticket.pk)
        .order_by("id")
        .values_list("body_text", flat=True)
    )
    assert texts[-2:] == ["line r1", "line r2"]
    assert not Message.objects.filter(external_id__endswith=(":e1")).exists()
    assert not Message.objects.filter(external_id__endswith=(":s1")).exists()


def test_the_flood_limit_holds_inside_a_batch_for_that_visitor_only(widget):
    (ctx, flooding), (ctx2, calm) = chats(widget, 2)  # each start counted one line already
    lines = [line(ctx, flooding, f"f{k}") for k in range(chat.FLOOD_LIMIT + 5)]
    lines.insert(3, line(ctx2, calm, "c1"))
    results = chat.store_visitor_lines(lines)
    mine = [r for r, item in zip(results, lines, strict=True) if item.session_id == flooding.pk]
    assert [r.error is None for r in mine] == [True] * (chat.FLOOD_LIMIT - 1) + [False] * 6
    assert all(r.error.code == "rate_limited" for r in mine if r.error is not None)
    assert results[3].error is None and results[3].message_id
    stored = Message.objects.filter(ticket_id=flooding.ticket_id).count()
    assert stored == chat.FLOOD_LIMIT  # the start and the lines within the limit
