"""A reply with images inserted in the composer, over a real SMTP conversation (aiosmtpd): the
HTML and its images travel as multipart/related, each `cid:` reference resolving to a part."""

from __future__ import annotations

import re

import pytest

from caredesk.agent import services as workspace
from caredesk.channels.email.services import receive
from caredesk.tickets.models import Ticket
from tests.email.mail import free_port, make
from tests.email.smtp_sink import SmtpSink
from tests.images import PDF, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_settings(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_TIMEOUT = 10
    settings.CAREDESK_EMAIL_SINK = "off"
    return settings


@pytest.fixture
def ticket(mailbox, smtp_settings, personas):
    smtp_settings.EMAIL_PORT = free_port()  # nothing listens: the acknowledgement waits
    result = receive(make(message_id="<first@example.test>"))
    ticket = Ticket.objects.get(pk=result.ticket_id)
    Ticket.objects.filter(pk=ticket.pk).update(team=personas.billing)
    return ticket


def test_inline_images_are_related_parts_the_html_references(
    ticket, personas, smtp_settings, django_capture_on_commit_callbacks
):
    red, blue = png(rgb=(220, 0, 0)), png(rgb=(0, 0, 220))
    first = workspace.upload_composer_image(personas.alice, ticket, "red.png", red)
    second = workspace.upload_composer_image(personas.alice, ticket, "blue.png", blue)
    body = (
        f"The error:\n\n{workspace.composer_image_markdown(first)}\n\n"
        f"and after the fix {workspace.composer_image_markdown(second)}"
    )
    with SmtpSink() as sink:
        smtp_settings.EMAIL_PORT = sink.port
        with django_capture_on_commit_callbacks(execute=True):
            workspace.send_from_composer(
                personas.alice,
                ticket,
                body_text=body,
                attachments=[
                    workspace.tickets.InboundAttachment("notes.pdf", "application/pdf", PDF)
                ],
                markdown=True,
            )
    [sent] = [m for m in sink.received if "The error:" in m.get_body(("plain",)).get_content()]

    assert sent.get_content_type() == "multipart/mixed"
    alternative = next(
        p for p in sent.iter_parts() if p.get_content_type() == "multipart/alternative"
    )
    related = next(
        p for p in alternative.iter_parts() if p.get_content_type() == "multipart/related"
    )
    html_part, *images = list(related.iter_parts())
    assert html_part.get_content_type() == "text/html"
    parts_by_cid = {p["Content-ID"].strip("<>"): p for p in images}
    references = re.findall(r'src="cid:([^"]+)"', html_part.get_content())
    assert len(references) == 2 and set(references) == set(parts_by_cid)
    contents = {p.get_filename(): p.get_content() for p in parts_by_cid.values()}
    assert contents == {"red.png": red, "blue.png": blue}
    assert all(p.get_content_disposition() == "inline" for p in images)
    assert all(p.get_content_type() == "image/png" for p in images)
    # A file attached the ordinary way stays an attachment beside the body, not in the HTML.
    [pdf] = [p for p in sent.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_filename() == "notes.pdf"
    assert not any(p.get_content_type() == "image/png" for p in sent.iter_attachments())
