"""Each agent picks the inbox columns they see."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from caredesk.sla.models import SlaPolicy, TicketSla
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, personas):
    client.force_login(personas.alice)
    return client


def _headers(page: str) -> list[str]:
    import re

    head = page[page.index("<thead>") : page.index("</thead>")]
    return re.findall(r'<th scope="col">([^<]*)</th>', head)


def test_all_columns_show_until_the_agent_chooses(alice_client, personas):
    factories.ticket(team=personas.billing)
    page = alice_client.get("/agent/?view=team").content.decode()
    assert _headers(page) == [
        "#",
        "Subject",
        "Requester",
        "Status",
        "SLA",
        "Priority",
        "Channel",
        "Assignee",
        "Updated",
    ]


def test_chosen_columns_are_kept_and_others_hidden(alice_client, personas):
    ticket = factories.ticket(team=personas.billing, subject="Choose")
    policy = SlaPolicy.objects.create(name="Gold")
    due = timezone.now() + timedelta(hours=1)
    TicketSla.objects.create(ticket=ticket, policy=policy, first_response_due=due, next_due=due)
    back = alice_client.post(
        "/agent/columns/",
        {"column": ["updated", "sla"], "next": "/agent/?view=team"},
    )
    assert back["Location"] == "/agent/?view=team"
    page = alice_client.get("/agent/?view=team").content.decode()
    assert _headers(page) == ["#", "Subject", "SLA", "Updated"]
    row = page[page.index(">Choose</a>") : page.index("</tr>", page.index(">Choose</a>"))]
    assert "breaches in" in row and "status-" not in row
    # Another agent's inbox is unchanged.
    personas.bob.refresh_from_db()
    assert personas.bob.inbox_columns == []


def test_unknown_or_no_columns_are_refused_with_a_message(alice_client, personas):
    refused = alice_client.post("/agent/columns/", {"column": ["status", "shoe_size"]}, follow=True)
    assert "Unknown inbox column: shoe_size." in refused.content.decode()
    empty = alice_client.post("/agent/columns/", {}, follow=True)
    assert "Keep at least one column" in empty.content.decode()
    personas.alice.refresh_from_db()
    assert personas.alice.inbox_columns == []
