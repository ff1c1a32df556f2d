"""Inline images in the help centre: a customer's own mail's pictures are shown from the
customer's download, never from the agent workspace's (which would not load for them)."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from django.core.cache import cache
from django.test import Client

from caredesk.channels.email.models import Mailbox
from caredesk.channels.email.services import receive
from caredesk.tickets.models import Message
from tests.images import png

pytestmark = pytest.mark.django_db


def test_an_inbound_mails_inline_image_shows_from_the_customers_download(personas):
    cache.clear()
    mailbox = Mailbox.objects.create(
        address="support@demo.caredesk.test", name="Support", team=personas.billing
    )
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"], msg["Message-ID"] = (
        "jo@example.test",
        mailbox.address,
        "The broken screen",
        "<pic@example.test>",
    )
    msg.set_content("see picture")
    msg.add_alternative('<p>Look: <img src="cid:shot1"></p>', subtype="html")
    msg.get_payload()[1].add_related(png(), maintype="image", subtype="png", cid="<shot1>")
    message = Message.objects.get(pk=receive(msg.as_bytes()).message_id)
    image = message.attachments.get()

    client = Client()
    session = client.session
    session["portal_customer_id"] = message.ticket.requester_id
    session.save()
    page = client.get(f"/help/requests/{message.ticket_id}/").content.decode()
    assert f'<img src="/help/files/{image.pk}/">' in page
    assert "/agent/attachments/" not in page
    assert b"".join(client.get(f"/help/files/{image.pk}/").streaming_content) == png()
