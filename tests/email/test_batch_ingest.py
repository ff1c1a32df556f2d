"""The batch path of `receive_batch`: the new tickets of a batch are written with one statement per
table (`tickets.services.ingest_new_many`). It must leave exactly the rows the one-at-a-time path
leaves, fall back to that path when its insert fails (the failing message quarantined, the others
committed), and cost a number of statements that does not grow with the batch."""

import re

import pytest
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from caredesk.automation.services import active_triggers
from caredesk.channels.email import services as email_services
from caredesk.channels.email.models import Mailbox
from caredesk.channels.email.services import receive_batch
from caredesk.customers.models import Customer, Identity
from caredesk.search.models import SearchDocument
from caredesk.tickets import services as ticket_services
from caredesk.tickets.models import Message, RawInbound, Ticket, TicketEvent, TicketLink
from tests.email.mail import SUPPORT, make

pytestmark = pytest.mark.django_db


def snapshot() -> dict:
    """Every row ingestion writes, with ids replaced by natural keys (ids differ between runs)."""
    customer_key = {c.pk: c.email for c in Customer.objects.all()}
    ticket_key = {
        t.pk: (t.subject, customer_key[t.requester_id]) for t in Ticket.objects.order_by("id")
    }
    message_key = {m.pk: m.external_id for m in Message.objects.all()}
    raw_key = {r.pk: r.external_id for r in RawInbound.objects.all()}

    def data(values: dict) -> dict:
        keys = {"message_id": message_key, "customer_id": customer_key, "target": ticket_key}
        return {k: keys[k][v] if k in keys else v for k, v in values.items()}

    def metadata(values: dict) -> dict:
        # A warning names the ticket a stranger's mail claimed by its number.
        warnings = [
            re.sub(r"#(\d+)", lambda n: str(ticket_key[int(n.group(1))]), w)
            for w in values.get("warnings", [])
        ]
        return {**values, "warnings": warnings} if warnings else values

    first_message_at = {}
    for m in Message.objects.order_by("id"):
        first_message_at.setdefault(m.ticket_id, m.created_at)
    return {
        "customers": sorted(
            (c.name, c.email, c.phone, c.organization_id, c.language, c.vip, c.notes)
            for c in Customer.objects.all()
        ),
        "identities": sorted(
            (customer_key[i.customer_id], i.kind, i.value) for i in Identity.objects.all()
        ),
        "tickets": sorted(
            (
                *ticket_key[t.pk],
                t.status,
                t.priority,
                t.channel,
                t.team_id,
                t.organization_id,
                t.language,
                t.category,
                t.thread_key,
                t.custom_fields,
                t.version,
                t.reopened_count,
                # Stamped with its first message's time, as `_open_ticket` does.
                t.last_customer_message_at == first_message_at.get(t.pk),
                tuple(sorted(t.tags.values_list("name", flat=True))),
                tuple(sorted(customer_key[c] for c in t.cc.values_list("pk", flat=True))),
            )
            for t in Ticket.objects.all()
        ),
        "messages": sorted(
            (
                ticket_key[m.ticket_id],
                m.external_id,
                m.author_kind,
                customer_key.get(m.author_customer_id),
                m.internal,
                m.body_text,
                m.body_html,
                m.channel,
                m.delivery_status,
                raw_key.get(m.raw_id),
                metadata(m.metadata),
            )
            for m in Message.objects.all()
        ),
        # Per ticket, in the order they were written.
        "events": sorted(
            (
                ticket_key[e.ticket_id],
                e.kind,
                e.actor_kind,
                customer_key.get(e.actor_customer_id),
                str(data(e.data)),
            )
            for e in TicketEvent.objects.order_by("id")
        ),
        "event_order": {
            key: [e.kind for e in TicketEvent.objects.filter(ticket_id=pk).order_by("id")]
            for pk, key in ticket_key.items()
        },
        "search": sorted(
            (
                d.kind,
                ticket_key[d.object_id] if d.kind == "ticket" else customer_key[d.object_id],
                d.title,
                d.body,
                d.language,
                d.public,
            )
            for d in SearchDocument.objects.all()
        ),
        "raw": sorted(
            (r.external_id, r.state, r.error, r.processed_at is not None, r.attempts)
            for r in RawInbound.objects.all()
        ),
        "links": sorted(
            (ticket_key[link.source_id], ticket_key[link.target_id], link.kind)
            for link in TicketLink.objects.all()
        ),
    }


def mixed_batch() -> list[bytes]:
    return [
        make(sender="ann@example.test", subject="Broken lid", message_id="<n-1@example.test>"),
        # A known customer (jo owns the stored thread) with a new subject.
        make(subject="Invoice copy", message_id="<n-2@example.test>"),
        # A reply into the stored thread.
        make(
            subject="Re: Parcel late",
            body="Any news?",
            message_id="<r-1@example.test>",
            headers={"In-Reply-To": "<root@example.test>"},
        ),
        # A second copy within the batch, and a copy of a stored message.
        make(sender="ann@example.test", subject="Broken lid", message_id="<n-1@example.test>"),
        make(subject="Parcel late", message_id="<root@example.test>"),
        # Fails while it is processed: quarantined with its error, the others land.
        make(sender="pat@example.test", subject="Poison", message_id="<p-1@example.test>"),
        # The same sender and subject as an earlier new message of the batch: joins its ticket.
        make(
            sender="ann@example.test",
            subject="Re: Broken lid",
            body="Photo attached soon.",
            message_id="<n-3@example.test>",
        ),
        # An automatic reply: tagged, from a new customer with a display name.
        make(
            sender="Vacation Robot <robot@example.test>",
            subject="Out of office",
            message_id="<n-4@example.test>",
            headers={"Auto-Submitted": "auto-replied"},
        ),
        make(
            sender="Dee <dee@example.test>", subject="Wrong size", message_id="<n-5@example.test>"
        ),
        # Unparseable as mail from anybody: quarantined.
        b"\x00\x01 not a mail",
    ]


@pytest.fixture
def poison(monkeypatch):
    real = email_services._link_inline_images

    def fail_on_poison(message):
        if message.ticket.subject == "Poison":
            raise RuntimeError("inline images exploded")
        real(message)

    monkeypatch.setattr(email_services, "_link_inline_images", fail_on_poison)


def run_batch(bulk: bool, capture) -> tuple[list, dict]:
    """The mixed batch after one stored thread, by one path, with what runs after the commits
    (search documents of new customers, routing, SLA, triggers); rolled back afterwards."""
    cache.clear()
    sid = transaction.savepoint()
    try:
        with capture(execute=True):
            receive_batch(
                [(make(subject="Parcel late", message_id="<root@example.test>"), [])], bulk=bulk
            )
        with capture(execute=True):
            results = receive_batch([(raw, [SUPPORT]) for raw in mixed_batch()], bulk=bulk)
        return [r.outcome for r in results], snapshot()
    finally:
        transaction.savepoint_rollback(sid)


def test_the_batch_path_leaves_the_same_rows_as_one_message_at_a_time(
    mailbox, poison, monkeypatch, django_capture_on_commit_callbacks
):
    written: list[int] = []
    real = ticket_services.ingest_new_many

    def counted(inbounds):
        written.append(len(inbounds))
        return real(inbounds)

    replies: list[int] = []
    real_lines = ticket_services.add_customer_lines

    def counted_lines(lines):
        replies.append(len(lines))
        return real_lines(lines)

    monkeypatch.setattr(ticket_services, "ingest_new_many", counted)
    monkeypatch.setattr(ticket_services, "add_customer_lines", counted_lines)
    one_by_one_outcomes, one_by_one = run_batch(False, django_capture_on_commit_callbacks)
    assert written == [] and replies == []
    batch_outcomes, batched = run_batch(True, django_capture_on_commit_callbacks)
    # The reply r-1 into the stored thread was added by the batch path of replies.
    assert replies == [1]
    # The batch path was taken: the stored thread's first message, then the run of new tickets
    # n-1 and n-2 together, the poisoned message (its run failed and it was taken one at a time:
    # n-3 after it joins an earlier ticket and goes one at a time anyway), then n-4 and n-5.
    assert written == [1, 2, 1, 2]
    assert (
        batch_outcomes
        == one_by_one_outcomes
        == [
            "created",
            "created",
            "threaded",
            "duplicate",
            "duplicate",
            "quarantined",
            "threaded",
            "created",
            "created",
            "quarantined",
        ]
    )
    for table in one_by_one:
        assert batched[table] == one_by_one[table], table
    poisoned = [r for r in batched["raw"] if r[0] == "<p-1@example.test>"]
    assert poisoned == [
        ("<p-1@example.test>", "quarantined", "RuntimeError: inline images exploded", False, 1)
    ]


def test_a_failing_batch_insert_falls_back_and_loses_nothing(mailbox, monkeypatch):
    # The customers' insert collides with a row written meanwhile (as by another process): the
    # batch's savepoint is rolled back and every message is taken one at a time.
    real = ticket_services.ingest_new_many
    attempts = []

    def collide(inbounds):
        attempts.append(len(inbounds))
        Customer.objects.create(email="ann@example.test", name="Ann (other process)")
        Identity.objects.create(
            customer=Customer.objects.get(email="ann@example.test"),
            kind="email",
            value="ann@example.test",
        )
        return real(inbounds)

    monkeypatch.setattr(ticket_services, "ingest_new_many", collide)
    raws = [
        make(sender="ann@example.test", subject="One", message_id="<f-1@example.test>"),
        make(sender="bob@example.test", subject="Two", message_id="<f-2@example.test>"),
    ]
    results = receive_batch([(raw, [SUPPORT]) for raw in raws])
    assert attempts == [2]
    assert [r.outcome for r in results] == ["created", "created"]
    # Rolled back to its savepoint: the colliding rows went with it, and each message landed
    # once through the one-at-a-time path.
    assert Customer.objects.filter(email="ann@example.test").count() == 1
    assert set(Message.objects.values_list("external_id", flat=True)) == {
        "<f-1@example.test>",
        "<f-2@example.test>",
    }
    assert set(RawInbound.objects.values_list("state", flat=True)) == {"processed"}


def test_a_bad_sender_in_a_batch_is_quarantined_and_the_rest_land(mailbox):
    raws = [
        make(sender="ann@example.test", subject="One", message_id="<q-1@example.test>"),
        # Has an "@", so it reaches ingest, where the address is refused.
        make(sender="pat@b", subject="Two", message_id="<q-2@example.test>"),
        make(sender="bob@example.test", subject="Three", message_id="<q-3@example.test>"),
    ]
    results = receive_batch([(raw, [SUPPORT]) for raw in raws])
    assert [r.outcome for r in results] == ["created", "quarantined", "created"]
    bad = RawInbound.objects.get(pk=results[1].raw_id)
    assert bad.state == "quarantined" and "ValidationFailed" in bad.error
    assert Ticket.objects.count() == 2


def new_mail(count: int, start: int) -> list[tuple[bytes, list[str]]]:
    return [
        (
            make(
                sender=f"sender{i}@example.test",
                subject=f"Order {i} arrived damaged",
                message_id=f"<count-{i}@example.test>",
            ),
            [SUPPORT],
        )
        for i in range(start, start + count)
    ]


@pytest.mark.parametrize("with_team", [False, True])
def test_statements_of_a_batch_do_not_grow_with_its_messages(
    mailbox, with_team, django_capture_on_commit_callbacks
):
    # No acknowledgements: each is a mail of its own, sent by a job per ticket.
    Mailbox.objects.filter(pk=mailbox.pk).update(
        auto_acknowledge=False, team=mailbox.team if with_team else None
    )
    email_services.forget_mailboxes()
    receive_batch(new_mail(2, 0))  # the process caches (mailboxes, prepared queries) are warm
    active_triggers()  # and the compiled triggers

    def statements(count: int, start: int) -> int:
        # Without a team, the receivers run after the commit are counted too (live inbox, SLA,
        # triggers, and routing, which finds nothing to route). With a team, routing reads each
        # ticket it may assign (its own work per ticket): the ingestion alone is counted.
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=not with_team),
        ):
            results = receive_batch(new_mail(count, start))
        assert {r.outcome for r in results} == {"created"}
        return len(queries)

    small, large = statements(4, 100), statements(24, 200)
    assert small == large
    # One statement per table and look-up, not per message: raw records (2 with the savepoint),
    # known Message-IDs, thread keys, customers, organizations, 3 for the new customers, tickets,
    # messages, events, ticket documents, raw states, 4 savepoint statements, the receivers.
    assert large <= 24, large


def reply_to(parent: str, **fields) -> bytes:
    return make(headers={"In-Reply-To": parent, "References": parent}, **fields)


def run_replies(bulk: bool, capture) -> tuple[list, dict, dict]:
    """Replies of every kind to four stored threads (open, solved, closed, merged), by one path;
    rolled back afterwards."""
    cache.clear()
    sid = transaction.savepoint()
    try:
        with capture(execute=True):
            receive_batch(
                [
                    (make(sender=f"{who}@example.test", subject=subject, message_id=mid), [SUPPORT])
                    for who, subject, mid in (
                        ("jo", "Parcel late", "<t1@example.test>"),
                        ("kim", "Refund", "<t2@example.test>"),
                        ("lee", "Login", "<t3@example.test>"),
                        ("max", "Parcel late again", "<t4@example.test>"),
                    )
                ],
                bulk=bulk,
            )
        by_subject = {t.subject: t for t in Ticket.objects.all()}
        Ticket.objects.filter(pk=by_subject["Refund"].pk).update(status="solved")
        Ticket.objects.filter(pk=by_subject["Login"].pk).update(status="closed")
        Ticket.objects.filter(pk=by_subject["Parcel late again"].pk).update(
            status="closed", merged_into=by_subject["Parcel late"]
        )
        # As `merge` does: the merged ticket's requester is on the target's CC list.
        by_subject["Parcel late"].cc.add(by_subject["Parcel late again"].requester_id)
        batch = [
            reply_to(
                "<t1@example.test>", subject="Re: Parcel late", body="One", message_id="<a1@x>"
            ),
            reply_to(
                "<t1@example.test>", subject="Re: Parcel late", body="Two", message_id="<a2@x>"
            ),
            # Someone not on the thread: a ticket of their own (linked), one at a time.
            reply_to(
                "<t1@example.test>",
                sender="ann@example.test",
                subject="Re: Parcel late",
                body="Me too",
                message_id="<a3@x>",
            ),
            reply_to(
                "<t1@example.test>", subject="Re: Parcel late", body="Three", message_id="<a4@x>"
            ),
            # Reopens a solved ticket; a follow-up of a closed one; into a merged one's target.
            reply_to(
                "<t2@example.test>",
                sender="kim@example.test",
                subject="Re: Refund",
                message_id="<a5@x>",
            ),
            reply_to(
                "<t3@example.test>",
                sender="lee@example.test",
                subject="Re: Login",
                message_id="<a6@x>",
            ),
            reply_to(
                "<t4@example.test>",
                sender="max@example.test",
                subject="Re: Parcel late again",
                message_id="<a7@x>",
            ),
            # With an attachment; then with HTML; then threaded by its subject only.
            reply_to(
                "<t1@example.test>",
                subject="Re: Parcel late",
                body="Photo",
                message_id="<a8@x>",
                attachments=[("lid.png", "image/png", b"\x89PNG fake")],
            ),
            reply_to(
                "<t1@example.test>",
                subject="Re: Parcel late",
                body="Four",
                html="<p>Four <b>bold</b><script>x()</script></p>",
                message_id="<a9@x>",
            ),
            make(subject="Re: Parcel late", body="Five", message_id="<a10@x>"),
            # A second copy of a reply of this batch.
            reply_to(
                "<t1@example.test>", subject="Re: Parcel late", body="One", message_id="<a1@x>"
            ),
        ]
        with capture(execute=True):
            results = receive_batch([(raw, [SUPPORT]) for raw in batch], bulk=bulk)
        order: dict[str, list[str]] = {}  # each ticket's messages in the order they were stored
        for m in Message.objects.select_related("ticket").order_by("id"):
            order.setdefault(m.ticket.subject, []).append(m.external_id)
        return [r.outcome for r in results], snapshot(), order
    finally:
        transaction.savepoint_rollback(sid)


def test_replies_in_a_batch_leave_the_same_rows_as_one_message_at_a_time(
    mailbox, monkeypatch, django_capture_on_commit_callbacks
):
    replies: list[int] = []
    real = ticket_services.add_customer_lines

    def counted(lines):
        replies.append(len(lines))
        return real(lines)

    monkeypatch.setattr(ticket_services, "add_customer_lines", counted)
    one_by_one_outcomes, one_by_one, one_by_one_order = run_replies(
        False, django_capture_on_commit_callbacks
    )
    assert replies == []
    batch_outcomes, batched, batched_order = run_replies(True, django_capture_on_commit_callbacks)
    # a1 and a2 together, then a4 after the stranger's message (order kept), then a9 after the
    # attachment; every other reply went through `ingest`.
    assert replies == [2, 1, 1]
    assert batch_outcomes == one_by_one_outcomes
    assert batch_outcomes == (
        ["threaded"] * 2 + ["created"] + ["threaded"] * 2 + ["created"] + ["threaded"] * 4
    ) + ["duplicate"]
    # The one difference: a batch bumps each ticket's version once for all its lines (any change
    # bumps it; edits made against an older version are refused either way).
    versions = {t[0]: t[11] for t in batched["tickets"]}
    assert versions == {
        "Login": 1,
        "Re: Login": 1,
        "Refund": 2,
        "Parcel late again": 1,
        "Parcel late": 7,
        "Re: Parcel late": 1,  # the stranger's own ticket
    }
    assert {t[0]: t[11] for t in one_by_one["tickets"]}["Parcel late"] == 8
    for table in one_by_one:
        if table == "tickets":
            for mine, theirs in zip(batched[table], one_by_one[table], strict=True):
                assert mine[:11] + mine[12:] == theirs[:11] + theirs[12:]
            continue
        assert batched[table] == one_by_one[table], table
    assert batched_order == one_by_one_order
    assert batched_order["Parcel late"] == [
        "<t1@example.test>",
        *(f"<a{n}@x>" for n in (1, 2, 4, 7, 8, 9, 10)),
    ]
    assert batched_order["Re: Parcel late"] == ["<a3@x>"]


def test_statements_of_a_batch_of_replies_do_not_grow_with_its_replies(
    mailbox, django_capture_on_commit_callbacks
):
    Mailbox.objects.filter(pk=mailbox.pk).update(auto_acknowledge=False, team=None)
    email_services.forget_mailboxes()
    receive_batch(new_mail(2, 0))  # the process caches are warm
    active_triggers()  # and the compiled triggers
    receive_batch(new_mail(30, 100))  # the threads the replies answer

    def statements(count: int, start: int) -> int:
        batch = [
            (
                reply_to(
                    f"<count-{i}@example.test>",
                    sender=f"sender{i}@example.test",
                    subject=f"Re: Order {i} arrived damaged",
                    body=f"Any news on {i}?",
                    message_id=f"<reply-{i}@example.test>",
                ),
                [SUPPORT],
            )
            for i in range(start, start + count)
        ]
        with (
            CaptureQueriesContext(connection) as queries,
            django_capture_on_commit_callbacks(execute=True),
        ):
            results = receive_batch(batch)
        assert {r.outcome for r in results} == {"threaded"}
        return len(queries)

    small, large = statements(4, 100), statements(24, 106)
    assert small == large
    assert large <= 26, large


def test_a_reply_into_another_channels_ticket_is_left_to_ingest(mailbox, monkeypatch):
    receive_batch([(make(subject="Chat follow-up", message_id="<c-1@example.test>"), [SUPPORT])])
    receive_batch([(make(subject="Mail thread", message_id="<m-1@example.test>"), [SUPPORT])])
    # As if the first had been a chat whose transcript the customer answers by mail.
    Ticket.objects.filter(subject="Chat follow-up").update(channel="chat")
    batched: list[int] = []
    real = ticket_services.add_customer_lines

    def counted(lines):
        batched.append(len(lines))
        return real(lines)

    monkeypatch.setattr(ticket_services, "add_customer_lines", counted)
    results = receive_batch(
        [
            (
                reply_to("<c-1@example.test>", subject="Re: Chat follow-up", message_id="<c-2@x>"),
                [],
            ),
            (reply_to("<m-1@example.test>", subject="Re: Mail thread", message_id="<m-2@x>"), []),
        ]
    )
    assert [r.outcome for r in results] == ["threaded", "threaded"]
    assert batched == [1]  # the mail thread's reply only
    chat_ticket = Ticket.objects.get(subject="Chat follow-up")
    assert list(chat_ticket.messages.order_by("id").values_list("external_id", flat=True)) == [
        "<c-1@example.test>",
        "<c-2@x>",
    ]
