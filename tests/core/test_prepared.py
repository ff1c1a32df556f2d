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
