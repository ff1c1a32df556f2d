"""Look-ups by external id (duplicates, threading by References, chat client ids) go through the
unique (channel, external_id) index instead of reading the whole message table."""

import re

import pytest
from django.db import connection

from caredesk.channels.email import services as email
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Channel
from tests import factories

pytestmark = pytest.mark.django_db


def plan(sql: str, params: list) -> str:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The test table is tiny, so PostgreSQL would rightly prefer reading it all; forbid that
            # to see whether an index could serve the query at all.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("EXPLAIN " + sql, params)
        else:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row) for row in cursor.fetchall())


def assert_served_by_the_unique_index(found: str) -> None:
    assert "message_unique_external_id" in found, found
    assert "SCAN tickets_message" not in found and "Seq Scan" not in found, found
    if connection.vendor == "postgresql":  # the index's leading column bounds the search
        assert re.search(r"Index Cond: \(+channel", found), found


def test_every_channel_and_a_named_channel_use_the_unique_index():
    for queryset in (
        tickets.messages_with_external_ids(["<a@x>", "<b@x>"]),
        tickets.messages_with_external_ids(["<a@x>"], [Channel.EMAIL]),
        tickets.messages_with_external_ids(["c1"], [Channel.CHAT]).order_by().values_list("id"),
    ):
        assert_served_by_the_unique_index(plan(*queryset.query.sql_with_params()))


def test_the_batch_look_ups_of_mail_use_the_unique_index():
    for prepared in (
        tickets._REFERENCED_TICKETS,
        email._STORED_MESSAGE_IDS,
    ):
        sql, slots = prepared._sql(connection.vendor, 2)
        params = []
        for is_slot, item in slots:
            params += (["<a@x>", "<b@x>"] if item == "external_ids" else []) if is_slot else [item]
        assert_served_by_the_unique_index(plan(sql, params))


def test_an_empty_id_finds_nothing_even_when_messages_without_ids_exist():
    ticket = factories.ticket()
    assert ticket.messages.filter(external_id="").exists()
    assert not tickets.messages_with_external_ids([""]).exists()
    assert not tickets.messages_with_external_ids(["", "<nope@x>"], [Channel.EMAIL]).exists()
