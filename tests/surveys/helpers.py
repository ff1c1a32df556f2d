"""Shared steps of the survey tests: solve a ticket as the workspace does, let the survey's
delay pass, read the links out of the survey mail."""

from __future__ import annotations

import re

from django.core import mail
from django.utils import timezone

from caredesk.core import jobs
from caredesk.core.models import Job
from caredesk.surveys.models import Survey
from caredesk.tickets import services as tickets
from caredesk.tickets.models import Status

LINK = re.compile(r"https?://[^/\s]+(/survey/[^/\s]+/)\?score=(\d)")


def solve(capture, agent, ticket):
    """Solve the ticket and let the change contract's receivers run, as after a real commit."""
    with capture(execute=True):
        tickets.change_status(agent, ticket, Status.SOLVED)


def survey_jobs():
    return Job.objects.filter(name="surveys.send").order_by("pk")


def run_due_surveys(capture):
    """The delay has passed: the scheduled jobs run (and the outbox sends what they queue)."""
    Job.objects.filter(name="surveys.send", state=Job.State.PENDING).update(
        run_after=timezone.now()
    )
    with capture(execute=True):
        return [jobs.run(job.pk) for job in survey_jobs()]


def survey_mails():
    return [m for m in mail.outbox if m.subject.startswith("How did we do?")]


def links_in(message) -> dict[int, str]:
    """score -> path of the rating links in a survey mail."""
    return {int(score): path for path, score in LINK.findall(message.body)}


def sent_survey(capture, agent, ticket) -> tuple[Survey, dict[int, str]]:
    solve(capture, agent, ticket)
    run_due_surveys(capture)
    survey = Survey.objects.get(ticket=ticket)
    return survey, links_in(survey_mails()[-1])
