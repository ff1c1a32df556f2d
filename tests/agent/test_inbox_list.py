"""The inbox list: totals, select-all, and a preview of each ticket's latest message."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.tickets.services import post_message
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, personas):
    client.force_login(personas.alice)
    return client


def test_the_list_says_how_many_it_shows_of_how_many(alice_client, personas):
    for i in range(55):
        factories.ticket(team=personas.billing, subject=f"T{i}", priority=3 if i < 7 else 1)
    page = alice_client.get("/agent/?view=team").content.decode()
    assert "Showing 1–<span data-shown>50</span> of 55" in page
    urgent = alice_client.get("/agent/?view=team&priority=urgent").content.decode()
    assert "Showing 1–<span data-shown>7</span> of 7" in urgent
    assert 'id="select-all" data-select-all' in page


def test_rows_preview_the_latest_message(alice_client, personas):
    ticket = factories.ticket(team=personas.billing, subject="Parcel", body="Where is it?")
    post_message(personas.alice, ticket, body_text="It left\n the   depot today. " + "x " * 200)
    quiet = factories.ticket(team=personas.billing, subject="Quiet", body="First and only")
    page = alice_client.get("/agent/?view=team").content.decode()
    row = page[page.index(">Parcel</a>") : page.index("</tr>", page.index(">Parcel</a>"))]
    assert f'id="pv{ticket.pk}" role="tooltip">It left the depot today. x x' in row
    assert row.count("x ") < 90 and "…</span>" in row
    assert f'id="pv{quiet.pk}" role="tooltip">First and only</span>' in page


def test_previews_and_totals_cost_no_query_per_row(alice_client, personas):
    for i in range(3):
        factories.ticket(team=personas.billing, subject=f"Few {i}")
    alice_client.get("/agent/?view=team")
    with CaptureQueriesContext(connection) as few:
        alice_client.get("/agent/?view=team")
    for i in range(30):
        ticket = factories.ticket(team=personas.billing, subject=f"Many {i}")
        post_message(personas.alice, ticket, body_text=f"answer {i}")
    alice_client.get("/agent/?view=team")
    with CaptureQueriesContext(connection) as many:
        page = alice_client.get("/agent/?view=team").content.decode()
    assert page.count('role="tooltip"') == 33
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]
