"""Prepared queries: written by the ORM once, then run with each call's values."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.core.prepared import PreparedQuery
from caredesk.tickets.models import Status, Ticket
from tests import factories

pytestmark = pytest.mark.django_db

OPEN_BY_SUBJECT = PreparedQuery(
    lambda subject, priority: (
        Ticket.objects.filter(subject=subject, priority=priority)
        .exclude(status=Status.CLOSED)
        .order_by("-id")
        .values_list("pk", "subject")[:1]
    ),
    subject="\x00subject\x00",
    priority=32_101,  # a valid value for the field, or the ORM finds the filter empty
)


def test_it_returns_what_the_orm_query_returns_for_each_call_s_values():
    first = factories.ticket(subject="Parcel", priority=2)
    newer = factories.ticket(subject="Parcel", priority=2)
    factories.ticket(subject="Parcel", priority=3)
    Ticket.objects.filter(pk=newer.pk).update(status=Status.CLOSED)
    assert OPEN_BY_SUBJECT.first(subject="Parcel", priority=2) == (first.pk, "Parcel")
    assert OPEN_BY_SUBJECT.first(subject="Parcel", priority=0) is None
    assert OPEN_BY_SUBJECT.first(subject="Refund", priority=2) is None


def test_it_runs_one_statement_and_builds_no_queryset_after_the_first_call(monkeypatch):
    factories.ticket(subject="Parcel", priority=2)
    OPEN_BY_SUBJECT.first(subject="Parcel", priority=2)

    def built_again(**_):
        raise AssertionError("the queryset was built again")

    monkeypatch.setattr(OPEN_BY_SUBJECT, "_build", built_again)
    with CaptureQueriesContext(connection) as queries:
        assert OPEN_BY_SUBJECT.first(subject="Parcel", priority=2) is not None
    assert len(queries) == 1


def test_a_placeholder_missing_from_the_query_is_refused():
    unused = PreparedQuery(lambda ticket_id: Ticket.objects.values_list("pk"), ticket_id=-7_000_102)
    with pytest.raises(AssertionError, match="ticket_id"):
        unused.first(ticket_id=1)


def test_ids_query_returns_the_orm_rows_for_any_number_of_ids():
    from caredesk.core.prepared import PreparedIdsQuery
    from caredesk.customers.models import Customer

    customers = Customer.objects.bulk_create(
        [Customer(name=f"C{n}", email=f"c{n}@example.test") for n in range(1_203)]
    )
    ids = [c.pk for c in customers]
    by_ids = PreparedIdsQuery(
        lambda chosen: Customer.objects.filter(pk__in=chosen).order_by().values_list("pk", "name"),
        chunk=500,
    )
    for wanted in ([], ids[:1], ids[:3], ids[:500], ids[:501], ids, [ids[5], ids[5], ids[7]]):
        expected = sorted(Customer.objects.filter(pk__in=wanted).values_list("pk", "name"))
        assert sorted(by_ids.rows(wanted)) == expected
    # Ids that match nothing find nothing (the placeholders are never real rows).
    assert by_ids.rows([-1, -2]) == []


def test_ids_query_builds_a_handful_of_statements_however_the_lengths_vary(monkeypatch):
    from caredesk.core.prepared import PreparedIdsQuery

    tickets = [factories.ticket() for _ in range(40)]
    built = []

    def build(chosen):
        built.append(len(chosen))
        return Ticket.objects.filter(pk__in=chosen).order_by().values_list("pk")

    by_ids = PreparedIdsQuery(build, chunk=16)
    for n in range(1, 41):
        wanted = [t.pk for t in tickets[:n]]
        assert sorted(pk for (pk,) in by_ids.rows(wanted)) == sorted(wanted)
    # Chunks padded to 1, 2, 4, 8 or 16 ids: five statements for forty lengths.
    assert sorted(built) == [1, 2, 4, 8, 16]
    with CaptureQueriesContext(connection) as queries:
        by_ids.rows([t.pk for t in tickets])
    assert len(queries.captured_queries) == 3  # 16 + 16 + 8
