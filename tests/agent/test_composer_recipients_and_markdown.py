"""The composer: CC, BCC and reply-all on email tickets; Markdown with a sanitized preview."""

from __future__ import annotations

import pytest
from django.core import mail

from caredesk.tickets.models import Channel, Message
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, personas):
    client.force_login(personas.alice)
    return client


@pytest.fixture
def email_ticket(personas):
    ticket = factories.ticket(
        team=personas.billing,
        channel=Channel.EMAIL,
        requester=factories.customer(email="jo@example.test", name="Jo"),
    )
    ticket.cc.add(factories.customer(email="boss@example.test", name="Boss"))
    return ticket


def _reply(client, ticket, capture, **fields):
    form = {"body": "We shipped it.", "recipients": "1", "format": "markdown", **fields}
    with capture(execute=True):
        return client.post(f"/agent/tickets/{ticket.pk}/reply/", form, follow=True)


def test_reply_all_copies_the_ticket_cc_and_adds_typed_cc_and_bcc(
    alice_client, email_ticket, django_capture_on_commit_callbacks
):
    page = alice_client.get(f"/agent/tickets/{email_ticket.pk}/").content.decode()
    assert "Reply all (CC Boss)" in page and 'id="composer-bcc"' in page
    _reply(
        alice_client,
        email_ticket,
        django_capture_on_commit_callbacks,
        reply_all="1",
        cc="ops@example.test; JO@example.test",
        bcc="audit@example.test",
    )
    sent = mail.outbox[-1]
    assert sent.to == ["jo@example.test"]
    # The requester is not copied to herself; BCC stays out of the headers.
    assert sent.cc == ["boss@example.test", "ops@example.test"]
    assert sent.bcc == ["audit@example.test"]
    assert "Bcc" not in sent.message().as_string()
    assert "audit@example.test" in sent.recipients()


def test_without_reply_all_only_the_requester_and_typed_cc_get_it(
    alice_client, email_ticket, django_capture_on_commit_callbacks
):
    _reply(alice_client, email_ticket, django_capture_on_commit_callbacks, cc="ops@example.test")
    sent = mail.outbox[-1]
    assert sent.cc == ["ops@example.test"] and sent.bcc == []


def test_a_bad_address_sends_nothing_and_keeps_the_draft(
    alice_client, email_ticket, django_capture_on_commit_callbacks
):
    before = Message.objects.filter(ticket=email_ticket).count()
    outbox = len(mail.outbox)
    page = _reply(
        alice_client,
        email_ticket,
        django_capture_on_commit_callbacks,
        body="My careful answer",
        cc="not-an-address",
    ).content.decode()
    assert "CC: “not-an-address” is not an email address." in page
    assert "My careful answer</textarea>" in page and 'value="not-an-address"' in page
    assert Message.objects.filter(ticket=email_ticket).count() == before
    assert len(mail.outbox) == outbox


def test_other_channels_show_no_recipient_fields(alice_client, personas):
    ticket = factories.ticket(team=personas.billing, channel=Channel.WEB)
    page = alice_client.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert 'id="composer-cc"' not in page and 'data-md="bold"' in page


def test_markdown_replies_are_stored_as_sanitized_html(alice_client, personas):
    ticket = factories.ticket(team=personas.billing)
    body = "Hi **Jo**,\n\n- one\n- two\n\n<script>alert(1)</script> [x](javascript:alert(1))"
    alice_client.post(f"/agent/tickets/{ticket.pk}/reply/", {"body": body, "format": "markdown"})
    message = Message.objects.filter(ticket=ticket).order_by("-id").first()
    assert message.body_text == body
    assert "<strong>Jo</strong>" in message.body_html and "<li>one</li>" in message.body_html
    assert "<script" not in message.body_html and 'href="javascript' not in message.body_html
    assert "&lt;script&gt;" in message.body_html  # typed tags stay text

    preview = alice_client.post("/agent/composer/preview/", {"body": body}).content.decode()
    assert message.body_html in preview


def test_preview_runs_the_message_sanitizer_and_redaction(alice_client):
    preview = alice_client.post(
        "/agent/composer/preview/",
        {"body": '<img src=x onerror="alert(1)"> card 4111 1111 1111 1111'},
    ).content.decode()
    assert "<img" not in preview and "4111 1111 1111 1111" not in preview
    assert alice_client.get("/agent/composer/preview/").status_code == 405
