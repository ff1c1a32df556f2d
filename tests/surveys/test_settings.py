"""Admin → CSAT surveys: a real form (checkboxes, one choice per line), validated, admins only;
what it saves is what the next solved ticket uses."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from caredesk.surveys.models import SurveySettings
from caredesk.tickets.models import Channel
from tests import factories
from tests.surveys.helpers import solve, survey_jobs

pytestmark = pytest.mark.django_db
URL = "/agent/admin/surveys/"
GOOD = {
    "enabled": "on",
    "delay_minutes": "5",
    "once_per_days": "30",
    "question": "Were you happy with our help?",
    "follow_up_choices": "Too slow\n\n  Not solved  \n",
    "channels": ["email", "web"],
}


@pytest.fixture
def admin(personas):
    client = Client()
    client.force_login(personas.admin)
    return client


def test_the_form_shows_names_and_checkboxes_not_json(admin):
    html = admin.get(URL).content.decode()
    assert 'type="checkbox" name="channels" value="email"' in html and "Live chat" in html
    assert "It took too long" in html  # the default choices, one per line
    assert "[" not in html.split('id="survey-settings"')[1].split("</form>")[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"follow_up_choices": "  \n "}, "Enter at least one choice, one per line."),
        ({"follow_up_choices": "A\nA"}, "Each choice may appear only once."),
        ({"channels": []}, "Choose at least one channel, or turn surveys off."),
        ({"delay_minutes": "-1"}, "Ensure this value is greater than or equal to 0."),
        ({"channels": ["fax"]}, "Select a valid choice. fax is not one of the available choices."),
    ],
)
def test_bad_settings_are_refused_with_a_message(admin, change, message):
    response = admin.post(URL, {**GOOD, **change})
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not SurveySettings.objects.exists()


def test_saved_settings_apply_to_the_next_solved_ticket(
    admin, personas, django_capture_on_commit_callbacks
):
    assert admin.post(URL, GOOD).status_code == 302
    saved = SurveySettings.objects.get(pk=1)
    assert saved.follow_up_list == ["Too slow", "Not solved"]
    assert saved.channels == ["email", "web"] and saved.delay_minutes == 5

    ticket = factories.ticket(team=personas.billing, channel=Channel.EMAIL)
    solve(django_capture_on_commit_callbacks, personas.alice, ticket)
    [job] = survey_jobs()
    assert job.run_after - timezone.now() <= timedelta(minutes=5)

    chat = factories.ticket(team=personas.billing, channel=Channel.CHAT)
    solve(django_capture_on_commit_callbacks, personas.alice, chat)
    assert survey_jobs().count() == 1  # surveys are off for live chat now


def test_only_admins_change_the_settings(personas):
    for user in (personas.lead, personas.alice):
        client = Client()
        client.force_login(user)
        response = client.get(URL)
        assert response.status_code == 403
        assert "follow_up_choices" not in response.content.decode()
        assert client.post(URL, GOOD).status_code == 403
    assert not SurveySettings.objects.exists()
