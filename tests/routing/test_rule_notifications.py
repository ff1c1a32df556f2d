"""A rule's `notify_email` is an outbox row written with the rule's changes: the change that fired
it never waits for (or fails with) the mail server, and the mail is sent once by the worker."""

import pytest

from caredesk.automation import services as automation
from caredesk.automation.models import Trigger
from caredesk.core import outbox
from caredesk.core.models import Delivery
from caredesk.tickets.models import Ticket
from tests import factories
from tests.email.mail import free_port
from tests.email.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


def test_notify_email_is_queued_and_sent_once_without_touching_the_change(
    settings, django_capture_on_commit_callbacks
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # the mail server is down
    settings.EMAIL_TIMEOUT = 5
    settings.CAREDESK_EMAIL_SINK = "off"
    automation.save_trigger(
        Trigger(
            name="Tell the lead",
            events=["created"],
            conditions=[],
            actions=[{"type": "notify_email", "value": "lead@example.test"}],
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        ticket = factories.ticket(subject="Refund please")
    assert Ticket.objects.filter(pk=ticket.pk).exists()
    delivery = Delivery.objects.get(kind="rule_notification")
    assert delivery.ticket_id == ticket.pk and delivery.recipient == "lead@example.test"
    assert delivery.state == "pending" and "Connection refused" in delivery.last_error
    with SmtpSink() as sink:
        settings.EMAIL_PORT = sink.port
        Delivery.objects.filter(pk=delivery.pk).update(next_attempt_at=delivery.created_at)
        assert outbox.deliver(delivery.pk) == "sent"
        assert outbox.deliver(delivery.pk) == "skipped"
    (sent,) = sink.received
    assert sent["To"] == "lead@example.test" and f"[#{ticket.pk}] Refund please" in sent["Subject"]
