"""Sending on solve: one survey per solved ticket after the delay, through the outbox, at most
once per customer per N days, never for merged or spam tickets or customers we cannot reach."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from caredesk.core.models import Delivery
from caredesk.surveys.models import Survey, SurveySettings
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Channel, Status
from tests import factories
from tests.surveys.helpers import links_in, run_due_surveys, solve, survey_jobs, survey_mails

pytestmark = pytest.mark.django_db


def test_a_solved_ticket_gets_one_survey_mail_after_the_delay(
    personas, django_capture_on_commit_callbacks
):
    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    solve(django_capture_on_commit_callbacks, personas.alice, ticket)

    survey = Survey.objects.get(ticket=ticket)
    assert survey.state == Survey.State.SCHEDULED and survey.customer_id == ticket.requester_id
    [job] = survey_jobs()
    # Due an hour later (the default delay), and nothing is sent before.
    assert timedelta(minutes=59) < job.run_after - timezone.now() <= timedelta(minutes=60)
    assert survey_mails() == []

    assert run_due_surveys(django_capture_on_commit_callbacks) == ["done"]
    [message] = survey_mails()
    assert message.to == [ticket.requester.email]
    assert f"#{ticket.pk}" in message.subject
    assert sorted(links_in(message)) == [1, 2, 3, 4, 5]
    survey.refresh_from_db()
    assert survey.state == Survey.State.SENT and survey.sent_via == Channel.EMAIL
    # Through the outbox, and the links (bearer tokens) are not kept once sent.
    delivery = Delivery.objects.get(kind="survey")
    assert delivery.state == Delivery.State.SENT and "survey/" not in str(delivery.payload)

    # The job running again (a retry, a sweep) sends nothing more.
    from caredesk.surveys.services import send

    with django_capture_on_commit_callbacks(execute=True):
        send({"survey": survey.pk})
    assert len(survey_mails()) == 1


def test_a_customer_is_asked_at_most_once_in_n_days(personas, django_capture_on_commit_callbacks):
    customer = factories.customer()
    first, second, third = (
        factories.ticket(requester=customer, team=personas.billing, channel=Channel.EMAIL)
        for _ in range(3)
    )
    solve(django_capture_on_commit_callbacks, personas.alice, first)
    solve(django_capture_on_commit_callbacks, personas.alice, second)
    assert Survey.objects.filter(customer=customer).count() == 1

    # Eight days later the customer may be asked again (the default is once per 7 days).
    Survey.objects.filter(customer=customer).update(created_at=timezone.now() - timedelta(days=8))
    solve(django_capture_on_commit_callbacks, personas.alice, third)
    assert Survey.objects.filter(customer=customer).count() == 2
    run_due_surveys(django_capture_on_commit_callbacks)
    assert len(survey_mails()) == 2


def test_no_survey_for_merged_spam_or_unreachable_tickets(
    personas, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    # Merged: the source is closed by the merge, never solved.
    source = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    target = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    with capture(execute=True):
        tickets.merge(personas.alice, source, target)
    # Spam.
    spam = factories.ticket(team=personas.billing, channel=Channel.EMAIL, tags=["spam"])
    solve(capture, personas.alice, spam)
    # An email ticket whose customer has no email address.
    nobody = factories.customer(email="", phone="+14155550100")
    unreachable = factories.ticket(requester=nobody, team=personas.billing, channel=Channel.EMAIL)
    solve(capture, personas.alice, unreachable)
    # A channel the admin turned surveys off for.
    SurveySettings.objects.create(pk=1, channels=[Channel.EMAIL])
    phone = factories.ticket(team=personas.billing, channel=Channel.PHONE)
    solve(capture, personas.alice, phone)

    assert list(Survey.objects.all()) == []
    assert list(survey_jobs()) == []


def test_a_ticket_reopened_during_the_delay_gets_no_survey(
    personas, django_capture_on_commit_callbacks
):
    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    solve(django_capture_on_commit_callbacks, personas.alice, ticket)
    with django_capture_on_commit_callbacks(execute=True):
        tickets.change_status(personas.alice, ticket, Status.OPEN)
    run_due_surveys(django_capture_on_commit_callbacks)
    assert survey_mails() == []
    assert Survey.objects.get(ticket=ticket).state == Survey.State.SKIPPED


def test_a_chat_ticket_falls_back_to_email_once_the_chat_has_ended(
    personas, django_capture_on_commit_callbacks
):
    ticket = factories.ticket(team=personas.billing, channel=Channel.CHAT)
    solve(django_capture_on_commit_callbacks, personas.alice, ticket)
    run_due_surveys(django_capture_on_commit_callbacks)
    assert len(survey_mails()) == 1
    assert Survey.objects.get(ticket=ticket).sent_via == Channel.EMAIL


def test_an_open_chat_gets_rating_buttons_instead_of_a_mail(
    personas, django_capture_on_commit_callbacks, monkeypatch
):
    from caredesk.channels.chat.models import ChatSession, ChatStatus, ChatWidget
    from caredesk.core import realtime

    pushed = []
    monkeypatch.setattr(
        realtime, "send_now", lambda group, payload: pushed.append((group, payload))
    )
    ticket = factories.ticket(team=personas.billing, channel=Channel.CHAT)
    session = ChatSession.objects.create(
        widget=ChatWidget.objects.create(name="Site"),
        visitor_id="v1",
        customer=ticket.requester,
        ticket=ticket,
        status=ChatStatus.ACTIVE,
    )
    solve(django_capture_on_commit_callbacks, personas.alice, ticket)
    run_due_surveys(django_capture_on_commit_callbacks)

    assert survey_mails() == []
    [(group, payload)] = [p for p in pushed if p[1]["type"] == "chat.survey"]
    assert group == session.group
    assert [link["score"] for link in payload["links"]] == [1, 2, 3, 4, 5]
    assert all("/survey/" in link["url"] for link in payload["links"])
    assert Survey.objects.get(ticket=ticket).sent_via == Channel.CHAT
