"""Answering: the link's GET (what mail scanners fetch) records nothing, the page's own POST
(with CSRF) records one answer per survey, tampered and expired links are refused, and the
answer shows on the ticket's timeline."""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from caredesk.surveys.models import Survey
from caredesk.tickets.models import Channel, EventKind, TicketEvent
from tests import factories
from tests.surveys.helpers import sent_survey

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent(personas, django_capture_on_commit_callbacks):
    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL, subject="Late parcel")
    return sent_survey(django_capture_on_commit_callbacks, personas.alice, ticket)


def answers(survey):
    return list(TicketEvent.objects.filter(ticket=survey.ticket, kind=EventKind.SURVEY_ANSWERED))


def csrf_post(client, path, data):
    """POST as the page's own form does: with the CSRF token the GET handed out."""
    page = client.get(path).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    return client.post(path, {**data, "csrfmiddlewaretoken": token})


def test_a_link_scanner_get_records_nothing_and_the_pages_post_records(sent, capture_on_commit):
    survey, links = sent
    scanner = Client(enforce_csrf_checks=True)
    page = scanner.get(links[2] + "?score=2")
    assert page.status_code == 200
    html = page.content.decode()
    # The rating from the link is pre-selected, the follow-up question is there.
    assert re.search(r'<input[^>]*value="2"[^>]*checked', html)
    assert "What went wrong?" in html and "It took too long" in html and "Late parcel" in html
    survey.refresh_from_db()
    assert survey.score is None and survey.answered_at is None and answers(survey) == []

    # A POST without the page's CSRF token is refused and records nothing.
    assert scanner.post(links[2], {"score": "2"}).status_code == 403
    survey.refresh_from_db()
    assert survey.score is None

    with capture_on_commit(execute=True):
        done = csrf_post(
            scanner, links[2], {"score": "2", "reason": "It took too long", "comment": "Slow."}
        )
    assert done.status_code == 200 and "Thank you" in done.content.decode()
    survey.refresh_from_db()
    assert (survey.score, survey.reason, survey.comment) == (2, "It took too long", "Slow.")
    [event] = answers(survey)
    assert event.actor_kind == "customer"
    assert event.data["score"] == 2 and event.data["comment"] == "Slow."


def test_answering_again_replaces_the_one_answer(sent, capture_on_commit):
    survey, links = sent
    client = Client(enforce_csrf_checks=True)
    with capture_on_commit(execute=True):
        csrf_post(client, links[1], {"score": "1", "reason": "My problem was not solved"})
        csrf_post(client, links[5], {"score": "5", "reason": "It took too long"})
    assert Survey.objects.filter(ticket=survey.ticket).count() == 1
    survey.refresh_from_db()
    # A high score keeps no "what went wrong".
    assert (survey.score, survey.reason) == (5, "")
    assert [e.data["score"] for e in answers(survey)] == [1, 5]
    assert answers(survey)[-1].data["updated"] is True


def test_a_bad_answer_is_refused_with_a_message_and_records_nothing(sent):
    survey, links = sent
    client = Client()
    response = client.post(links[1], {"score": "1", "reason": "Made up"})
    assert response.status_code == 422
    assert "Select a valid choice" in response.content.decode()
    response = client.post(links[1], {"score": "9"})
    assert response.status_code == 422
    survey.refresh_from_db()
    assert survey.score is None and answers(survey) == []


def test_tampered_and_expired_links_are_refused(sent, monkeypatch):
    survey, links = sent
    path = links[4]
    token = path.split("/")[2]
    tampered = path.replace(token, token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    for bad in (tampered, "/survey/not-a-token/", f"/survey/{survey.pk}/"):
        response = Client().get(bad + "?score=4")
        assert response.status_code == 400, bad
        assert "not valid" in response.content.decode()
        assert Client().post(bad, {"score": "4"}).status_code == 400

    # 31 days later the link has expired (signed links carry their time).
    later = time.time() + 31 * 24 * 3600
    monkeypatch.setattr("django.core.signing.time.time", lambda: later)
    response = Client().get(path + "?score=4")
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert Client().post(path, {"score": "4"}).status_code == 410
    survey.refresh_from_db()
    assert survey.score is None and answers(survey) == []


def test_the_answer_page_is_rate_limited(sent):
    survey, links = sent
    client = Client()
    codes = [client.get(links[3]).status_code for _ in range(61)]
    assert codes[:60] == [200] * 60 and codes[60] == 429


def test_the_answer_shows_on_the_tickets_timeline(sent, personas, capture_on_commit):
    survey, links = sent
    with capture_on_commit(execute=True):
        csrf_post(
            Client(),
            links[1],
            {"score": "1", "reason": "It took too long", "comment": "Never again <b>"},
        )
    client = Client()
    client.force_login(personas.alice)
    page = client.get(f"/agent/tickets/{survey.ticket_id}/").content.decode()
    assert "Survey answered" in page
    assert "rated 1 of 5 (Very dissatisfied); what went wrong: It took too long" in page
    assert "Never again &lt;b&gt;" in page
