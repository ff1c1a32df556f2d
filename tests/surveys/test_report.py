"""The CSAT report: CSAT % (4-5 over all answers) and response rate (answers over sent) per
channel and per agent, in two grouped queries, for leads and admins only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from caredesk.surveys import services
from caredesk.surveys.models import Survey
from caredesk.tickets.models import Channel
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def known(personas):
    """Six surveys sent today, one sent 40 days ago and one still scheduled (neither counts)."""
    now = timezone.now()
    ticket = factories.ticket(team=personas.billing)
    rows = [
        (personas.alice, Channel.EMAIL, 5, now),
        (personas.alice, Channel.EMAIL, 4, now),
        (personas.alice, Channel.CHAT, 1, now),
        (personas.bob, Channel.EMAIL, 2, now),
        (personas.bob, Channel.EMAIL, None, now),
        (personas.bob, Channel.CHAT, None, now),
        (personas.bob, Channel.EMAIL, 5, now - timedelta(days=40)),
    ]
    for agent, channel, score, sent_at in rows:
        Survey.objects.create(
            ticket=ticket,
            customer=ticket.requester,
            agent=agent,
            channel=channel,
            state=Survey.State.SENT,
            sent_at=sent_at,
            score=score,
        )
    Survey.objects.create(
        ticket=ticket, customer=ticket.requester, agent=personas.bob, channel=Channel.EMAIL
    )
    return now.date()


def test_the_numbers_on_a_known_data_set_in_two_queries(known, django_assert_num_queries):
    with django_assert_num_queries(2):
        report = services.report(known - timedelta(days=7), known)
    by_channel = {r.key: (r.sent, r.answered, r.csat, r.response_rate) for r in report.by_channel}
    assert by_channel == {"Email": (4, 3, 66.7, 75.0), "Live chat": (2, 1, 0.0, 50.0)}
    by_agent = {r.key: (r.sent, r.answered, r.csat, r.response_rate) for r in report.by_agent}
    assert by_agent == {"Alice": (3, 3, 66.7, 100.0), "Bob": (3, 1, 0.0, 33.3)}
    assert (report.total.sent, report.total.answered, report.total.csat) == (6, 4, 50.0)
    # The older survey counts only in a range that holds it.
    older = services.report(known - timedelta(days=60), known - timedelta(days=30))
    assert [(r.key, r.sent, r.csat) for r in older.by_agent] == [("Bob", 1, 100.0)]


def test_leads_see_the_report_agents_and_customers_do_not(known, personas):
    url = f"/agent/admin/csat/?start={known - timedelta(days=7)}&end={known}"
    lead = Client()
    lead.force_login(personas.lead)
    page = lead.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "66.7%" in html and "Alice" in html and "Live chat" in html
    assert 'href="/agent/admin/csat/" aria-current="page">CSAT report<' in html  # in the nav

    junior = Client()
    junior.force_login(personas.bob)
    refused = junior.get(url)
    assert refused.status_code == 403 and "66.7%" not in refused.content.decode()

    from caredesk.portal.views import SESSION_KEY

    customer = Client()  # a customer signed in to the help centre
    session = customer.session
    session[SESSION_KEY] = Survey.objects.first().customer_id
    session.save()
    response = customer.get(url)
    assert response.status_code == 302 and "/agent/login/" in response["Location"]
    assert "66.7" not in response.content.decode()


def test_a_bad_range_is_refused_with_a_message(personas):
    lead = Client()
    lead.force_login(personas.lead)
    response = lead.get("/agent/admin/csat/?start=2026-02-10&end=2026-02-01")
    assert response.status_code == 422
    assert "The end date is before the start date." in response.content.decode()
    response = lead.get("/agent/admin/csat/?start=yesterday&end=2026-02-01")
    assert response.status_code == 400 and "Enter a valid date." in response.content.decode()
