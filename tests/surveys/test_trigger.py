"""A survey answer reaches the triggers: `survey.answered` with a `survey_score` condition."""

from __future__ import annotations

import pytest
from django.test import Client

from caredesk.automation import services as automation
from caredesk.automation.models import Trigger
from caredesk.tickets.models import Channel, Status, Ticket
from tests import factories
from tests.surveys.helpers import sent_survey
from tests.surveys.test_answering import csrf_post

pytestmark = pytest.mark.django_db


@pytest.fixture
def reopen_on_bad_rating():
    return automation.save_trigger(
        Trigger(
            name="Reopen on a bad rating",
            events=["survey.answered"],
            conditions=[{"field": "survey_score", "op": "lte", "value": 1}],
            actions=[{"type": "set", "field": "status", "value": "open"}],
        )
    )


@pytest.mark.parametrize(("score", "status"), [(1, Status.OPEN), (5, Status.SOLVED)])
def test_a_trigger_reopens_the_ticket_on_a_score_of_1(
    score, status, personas, reopen_on_bad_rating, django_capture_on_commit_callbacks
):
    assert reopen_on_bad_rating.events == ["survey_answered"]
    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    survey, links = sent_survey(django_capture_on_commit_callbacks, personas.alice, ticket)
    with django_capture_on_commit_callbacks(execute=True):
        csrf_post(Client(), links[score], {"score": str(score)})
    assert Ticket.objects.get(pk=ticket.pk).status == status


def test_a_survey_score_condition_on_other_events_never_holds(
    personas, django_capture_on_commit_callbacks
):
    automation.save_trigger(
        Trigger(
            name="Low score tag",
            events=["status_changed"],
            conditions=[{"field": "survey_score", "op": "lte", "value": 2}],
            actions=[{"type": "add_tags", "value": ["unhappy"]}],
        )
    )
    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    sent_survey(django_capture_on_commit_callbacks, personas.alice, ticket)
    assert "unhappy" not in set(ticket.tags.values_list("name", flat=True))


def test_the_rule_builder_takes_a_survey_score():
    assert automation.condition_from_text("survey_score", "lte", "2") == {
        "field": "survey_score",
        "op": "lte",
        "value": 2,
    }
