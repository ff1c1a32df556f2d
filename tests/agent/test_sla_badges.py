"""The inbox's SLA column and the ticket page's countdown: what each reads, and no query per row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from caredesk.sla.badges import badge, span
from caredesk.sla.models import SlaPolicy, TicketSla
from caredesk.tickets.models import Status
from tests import factories

NOW = datetime(2026, 3, 31, 12, 0, tzinfo=UTC)


def test_badges_read_as_time_left_or_time_since_the_breach():
    assert badge(NOW + timedelta(minutes=25, seconds=30), None, 10, NOW).label == (
        "breaches in 25 min"
    )
    assert badge(NOW + timedelta(minutes=25), None, 30, NOW).state == "warning"
    assert badge(NOW + timedelta(minutes=25), None, 10, NOW).state == "ok"
    late = badge(NOW - timedelta(minutes=10), None, 30, NOW)
    assert (late.label, late.state) == ("breached 10 min ago", "breached")
    assert badge(NOW + timedelta(minutes=5), NOW, 30, NOW).label == "SLA paused"
    assert badge(None, None, 30, NOW) is None
    assert [span(s) for s in (20, 60, 3600, 3660 + 3600, 86_400 * 3 + 7200)] == [
        "less than 1 min",
        "1 min",
        "1 h",
        "2 h 1 min",
        "3 d 2 h",
    ]


@pytest.fixture
def alice_client(client, personas):
    client.force_login(personas.alice)
    return client


def _with_clock(ticket, due, paused=False):
    policy, _ = SlaPolicy.objects.get_or_create(name="Gold", defaults={"warn_before_minutes": 30})
    TicketSla.objects.update_or_create(
        ticket=ticket,
        defaults={
            "policy": policy,
            "first_response_due": due,
            "next_due": None if paused else due,
            "paused_since": timezone.now() if paused else None,
        },
    )


def _row(page: str, subject: str) -> str:
    start = page.index(f">{subject}</a>")
    return page[start : page.index("</tr>", start)]


@pytest.mark.django_db
def test_inbox_rows_carry_an_sla_column(alice_client, personas):
    now = timezone.now()
    soon = factories.ticket(team=personas.billing, subject="Soon")
    _with_clock(soon, now + timedelta(minutes=25, seconds=40))
    late = factories.ticket(team=personas.billing, subject="Late")
    _with_clock(late, now - timedelta(minutes=10, seconds=20))
    paused = factories.ticket(team=personas.billing, subject="Waiting")
    _with_clock(paused, now + timedelta(hours=3), paused=True)
    factories.ticket(team=personas.billing, subject="No clock")

    page = alice_client.get("/agent/?view=team").content.decode()
    assert '<th scope="col">SLA</th>' in page
    assert "breaches in 25 min" in _row(page, "Soon") and "sla-warning" in _row(page, "Soon")
    assert "breached 10 min ago" in _row(page, "Late") and "sla-breached" in _row(page, "Late")
    assert "SLA paused" in _row(page, "Waiting")
    assert "sla-badge" not in _row(page, "No clock")


@pytest.mark.django_db
def test_solved_tickets_show_no_running_clock(alice_client, personas):
    from caredesk.tickets.services import change_status

    done = factories.ticket(team=personas.billing, subject="Done")
    _with_clock(done, timezone.now() - timedelta(minutes=5))
    change_status(personas.alice, done, Status.SOLVED)
    TicketSla.objects.filter(ticket=done).update(next_due=timezone.now() - timedelta(minutes=5))
    page = alice_client.get("/agent/?view=solved").content.decode()
    assert "sla-badge" not in _row(page, "Done")


@pytest.mark.django_db
def test_the_sla_column_costs_no_query_per_row(alice_client, personas):
    for i in range(3):
        factories.ticket(team=personas.billing, subject=f"Few {i}")
    alice_client.get("/agent/?view=team")  # warm the cached view counts
    with CaptureQueriesContext(connection) as few:
        alice_client.get("/agent/?view=team")
    for i in range(25):
        ticket = factories.ticket(team=personas.billing, subject=f"Many {i}")
        _with_clock(ticket, timezone.now() + timedelta(hours=i + 1))
    alice_client.get("/agent/?view=team")
    with CaptureQueriesContext(connection) as many:
        page = alice_client.get("/agent/?view=team").content.decode()
    assert page.count("breaches in") == 25
    assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


@pytest.mark.django_db
def test_ticket_page_counts_down_to_the_target(alice_client, personas):
    ticket = factories.ticket(team=personas.billing)
    due = timezone.now() + timedelta(hours=2, minutes=5, seconds=30)
    _with_clock(ticket, due)
    card = alice_client.get(f"/agent/tickets/{ticket.pk}/workflow/").content.decode()
    assert "breaches in 2 h 5 min" in card
    assert f'data-sla-due="{due.isoformat()}"' in card
