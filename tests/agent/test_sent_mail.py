"""The demo's mail sink: outbound mail is written as .eml files and listed on the admins' "Sent
mail" page; agents are refused, and without the sink the page does not exist."""

import pytest

from caredesk.channels.email.sink import sent_mails
from caredesk.core.models import Delivery
from caredesk.tickets.services import post_message
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def sink(settings, tmp_path):
    settings.CAREDESK_EMAIL_SINK = "on"
    settings.CAREDESK_EMAIL_SINK_DIR = tmp_path / "sent-mail"
    return settings.CAREDESK_EMAIL_SINK_DIR


@pytest.fixture
def sent_reply(sink, personas, django_capture_on_commit_callbacks):
    ticket = factories.ticket(
        subject="Parcel late",
        channel="email",
        requester=factories.customer(email="jo@example.test"),
        team=personas.billing,
    )
    with django_capture_on_commit_callbacks(execute=True):
        post_message(personas.alice, ticket, body_text="It left the warehouse <today>.")
    return ticket


def test_a_reply_lands_in_the_sink_as_a_file(sent_reply, sink):
    (mail,) = sent_mails()
    assert mail.to == "jo@example.test" and f"[#{sent_reply.pk}]" in mail.subject
    assert len(list(sink.glob("*.eml"))) == 1
    assert Delivery.objects.get().state == "sent"


def test_admins_see_the_sent_mail_and_can_open_one(sent_reply, personas, client):
    client.force_login(personas.admin)
    listing = client.get("/agent/admin/sent-mail/").content.decode()
    assert "jo@example.test" in listing and f"Re: Parcel late [#{sent_reply.pk}]" in listing
    assert 'href="/agent/admin/sent-mail/"' in listing  # in the admin navigation
    (mail,) = sent_mails()
    page = client.get(f"/agent/admin/sent-mail/{mail.name}/").content.decode()
    assert "It left the warehouse &lt;today&gt;." in page  # shown, escaped
    assert client.get("/agent/admin/sent-mail/..%2Fcaredesk.sqlite3/").status_code == 404


def test_agents_and_leads_are_refused_the_sent_mail(sent_reply, personas, client):
    for person in (personas.alice, personas.lead):
        client.force_login(person)
        response = client.get("/agent/admin/sent-mail/")
        assert response.status_code == 403
        assert "jo@example.test" not in response.content.decode()
        (mail,) = sent_mails()
        opened = client.get(f"/agent/admin/sent-mail/{mail.name}/")
        assert opened.status_code == 403 and "warehouse" not in opened.content.decode()


def test_without_the_sink_there_is_no_sent_mail_page(personas, client, settings):
    settings.CAREDESK_EMAIL_SINK = "off"
    client.force_login(personas.admin)
    assert client.get("/agent/admin/sent-mail/").status_code == 404
    assert "Sent mail" not in client.get("/agent/admin/agents/").content.decode()


def test_auto_uses_the_sink_only_when_the_demo_is_loaded(settings, personas):
    from caredesk.channels.email.sink import sink_active
    from caredesk.operations.demo import ADMIN_EMAIL

    settings.CAREDESK_EMAIL_SINK = "auto"
    assert not sink_active()
    factories.agent(email=ADMIN_EMAIL)
    assert sink_active()
