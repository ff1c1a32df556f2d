"""Prepared queries: written by the ORM once, then run with each call's values."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.core.prepared import PreparedInQuery, PreparedQuery
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


OPEN_AMONG = PreparedInQuery(
    lambda subjects, priority: (
        Ticket.objects.filter(subject__in=subjects, priority=priority)
        .exclude(status=Status.CLOSED)
        .order_by()
        .values_list("subject")
    ),
    "subjects",
    subjects="\x00subject\x00",
    priority=32_102,
)


def test_an_in_list_of_any_length_returns_what_the_orm_returns(monkeypatch):
    for subject in ("a", "b", "c"):
        factories.ticket(subject=subject, priority=2)
    factories.ticket(subject="d", priority=3)
    closed = factories.ticket(subject="e", priority=2)
    Ticket.objects.filter(pk=closed.pk).update(status=Status.CLOSED)
    assert OPEN_AMONG.rows(subjects=[], priority=2) == []
    assert sorted(OPEN_AMONG.rows(subjects=["a"], priority=2)) == [("a",)]
    wanted = ["a", "c", "d", "e", "zz"]
    assert sorted(OPEN_AMONG.rows(subjects=wanted, priority=2)) == [("a",), ("c",)]
    assert sorted(OPEN_AMONG.rows(subjects=wanted, priority=2)) == sorted(
        Ticket.objects.filter(subject__in=wanted, priority=2)
        .exclude(status=Status.CLOSED)
        .values_list("subject")
    )
    # Long lists go in chunks, one statement each, without the queryset being built again.
    monkeypatch.setattr(PreparedInQuery, "CHUNK", 2)
    monkeypatch.setattr(PreparedInQuery, "CHUNK_POSTGRESQL", 2)
    monkeypatch.setattr(OPEN_AMONG._inner, "_build", lambda **_: pytest.fail("built again"))
    with CaptureQueriesContext(connection) as queries:
        found = OPEN_AMONG.rows(subjects=["a", "b", "c", "d", "zz"], priority=2)
    assert sorted(found) == [("a",), ("b",), ("c",)]
    assert len(queries) == 3
