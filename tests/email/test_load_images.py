"""Remote images in customer email: blocked on the agent's ticket page until the agent asks for
them, one message at a time; the loaded version is still sanitized and redacted."""

from __future__ import annotations

import re

import pytest

from caredesk.channels.email.services import receive
from caredesk.tickets.models import Message
from tests.email.mail import make

pytestmark = pytest.mark.django_db
HTML = (
    '<p onclick="steal()">Photo of the damage:<script>alert(1)</script>'
    '<img src="https://tracker.test/p.gif" onerror="alert(2)" alt="damage"></p>'
)


@pytest.fixture
def email_message(mailbox):
    return Message.objects.get(pk=receive(make(html=HTML)).message_id)


@pytest.fixture
def agent(client, personas):
    client.force_login(personas.alice)
    return client


def _page(client, message, query=""):
    return client.get(f"/agent/tickets/{message.ticket_id}/{query}")


def test_remote_images_are_blocked_by_default_with_a_load_link(agent, email_message):
    response = _page(agent, email_message)
    page = response.content.decode()
    assert response.status_code == 200
    assert "tracker.test" not in page
    assert f'href="?images={email_message.pk}#m{email_message.pk}">Load images</a>' in page
    img_src = re.search(r"img-src ([^;]*)", response["Content-Security-Policy"]).group(1)
    assert "https:" not in img_src


def test_load_images_shows_them_for_that_message_still_sanitized(agent, email_message):
    response = _page(agent, email_message, f"?images={email_message.pk}")
    page = response.content.decode()
    assert '<img src="https://tracker.test/p.gif" alt="damage">' in page
    assert "onerror" not in page and "steal()" not in page and "alert(1)" not in page
    assert f'href="?#m{email_message.pk}">Hide images</a>' in page
    img_src = re.search(r"img-src ([^;]*)", response["Content-Security-Policy"]).group(1)
    assert "https:" in img_src.split()
    assert response["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in response["Content-Security-Policy"]  # nothing else loosened


def test_the_loaded_copy_is_redacted_like_the_body(agent, mailbox):
    html = '<p>My card is 4111 1111 1111 1111 <img src="https://shop.test/logo.png"></p>'
    message = Message.objects.get(pk=receive(make(html=html)).message_id)
    assert "4111 1111 1111 1111" not in message.body_html  # the stored body is redacted
    page = _page(agent, message, f"?images={message.pk}").content.decode()
    assert "https://shop.test/logo.png" in page
    assert "4111 1111 1111 1111" not in page


def test_other_messages_and_bad_parameters_change_nothing(agent, email_message):
    plain = _page(agent, email_message).content.decode()
    for query in ("?images=abc", "?images=999999", "?images=-1,,", "?images=" + "999999," * 500):
        response = _page(agent, email_message, query)
        assert response.status_code == 200
        assert "tracker.test" not in response.content.decode()
    assert "tracker.test" not in plain


def test_another_teams_agent_cannot_load_them(client, personas, email_message):
    client.force_login(personas.carol)  # Technical; the mailbox routes to Billing
    assert _page(client, email_message, f"?images={email_message.pk}").status_code == 404
