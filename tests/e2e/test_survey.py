"""A customer answers a CSAT survey from its mail in a real browser: the link opens the page with
the rating chosen, and only the page's own form (with its CSRF token) records the answer."""

import pytest
from django.core.cache import cache
from django.utils import timezone

from caredesk.core import jobs
from caredesk.core.models import Job
from caredesk.surveys.models import Survey
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Channel, EventKind, Status, TicketEvent
from tests import factories
from tests.surveys.helpers import links_in, survey_mails

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_customer_rates_from_the_mail_link(page, live_server, personas):
    cache.clear()
    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL, subject="Lost card")
    tickets.change_status(personas.alice, ticket, Status.SOLVED)  # commits: the survey is due later
    Job.objects.filter(name="surveys.send").update(run_after=timezone.now())
    [job] = Job.objects.filter(name="surveys.send")
    assert jobs.run(job.pk) == "done"
    link = links_in(survey_mails()[-1])[1]

    page.goto(f"{live_server.url}{link}?score=1")
    assert page.get_by_label("1 – Very dissatisfied").is_checked()
    assert Survey.objects.get(ticket=ticket).score is None  # opening the link records nothing
    follow_up = page.get_by_label("What went wrong?")
    page.get_by_label("5 – Very satisfied").check()
    assert follow_up.is_hidden()  # the follow-up question is for low ratings only
    page.get_by_label("1 – Very dissatisfied").check()
    follow_up.select_option("It took too long")
    page.get_by_label("Anything else you want to tell us?").fill("Three days for a new card.")
    page.get_by_role("button", name="Send my rating").click()
    page.wait_for_selector("text=Thank you for your feedback")

    survey = Survey.objects.get(ticket=ticket)
    assert (survey.score, survey.reason) == (1, "It took too long")
    event = TicketEvent.objects.get(ticket=ticket, kind=EventKind.SURVEY_ANSWERED)
    assert event.data["comment"] == "Three days for a new card."
