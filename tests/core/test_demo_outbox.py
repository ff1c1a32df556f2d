"""The demo's seeded agent replies are history: stored as sent, with nothing left to deliver."""

import pytest

from caredesk.core.models import Delivery
from caredesk.operations.demo import load_demo
from caredesk.tickets.models import AuthorKind, Channel, Message

pytestmark = pytest.mark.django_db


def test_seeded_replies_are_stored_as_sent_with_no_delivery_attempts(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        load_demo(tickets=40, customers=15)
    replies = Message.objects.filter(
        author_kind=AuthorKind.AGENT, internal=False, channel=Channel.EMAIL
    )
    assert replies.exists()
    assert set(replies.values_list("delivery_status", flat=True)) == {"sent"}
    assert not Message.objects.filter(delivery_status__in=["queued", "failed"]).exists()
    assert not Delivery.objects.exists()
