"""Inline images in the composer: the upload endpoint (agents only, CSRF, images by content),
the reply taking them as inline attachments, and who may see them where."""

from __future__ import annotations

import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from caredesk.agent.models import ComposerImage
from caredesk.core.html import sanitize_html
from caredesk.tickets.models import Attachment, Channel, Message
from tests import factories
from tests.images import PDF, png

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket(personas):
    return factories.ticket(
        team=personas.billing,
        channel=Channel.EMAIL,
        requester=factories.customer(email="jo@example.test", name="Jo"),
    )


def _client(user, *, csrf: bool = False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    if user is not None:
        client.force_login(user)
    return client


def _upload(client: Client, ticket, content: bytes, name: str = "screenshot.png", **extra):
    image = SimpleUploadedFile(name, content, content_type="image/png")
    return client.post(f"/agent/tickets/{ticket.pk}/images/", {"image": image}, **extra)


def test_an_image_is_stored_for_the_draft_and_answered_with_its_markdown(personas, ticket):
    response = _upload(_client(personas.alice), ticket, png())
    assert response.status_code == 201
    data = response.json()
    assert re.fullmatch(r"!\[screenshot\.png\]\(cid:[a-z]{24}@caredesk\)", data["markdown"])
    pending = ComposerImage.objects.select_related("attachment").get()
    assert pending.owner == personas.alice and pending.ticket == ticket
    assert pending.attachment.message is None
    assert pending.attachment.content_type == "image/png"
    assert f"cid:{pending.attachment.content_id}" in data["markdown"]


def test_the_type_and_name_come_from_the_content_and_cannot_break_the_markdown(personas, ticket):
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    response = _upload(_client(personas.alice), ticket, gif, name="a](javascript:x).png")
    assert response.status_code == 201
    assert re.fullmatch(
        r"!\[ajavascript:x\.gif\]\(cid:[a-z]{24}@caredesk\)", response.json()["markdown"]
    )
    assert ComposerImage.objects.get().attachment.content_type == "image/gif"


def test_a_pdf_named_png_is_refused_and_nothing_is_stored(personas, ticket):
    response = _upload(_client(personas.alice), ticket, PDF, name="invoice.png")
    assert response.status_code == 422
    assert "Only PNG, JPEG, GIF and WebP" in response.json()["error"]
    assert not Attachment.objects.exists() and not ComposerImage.objects.exists()


def test_an_image_over_the_attachment_limit_is_refused(personas, ticket, settings):
    settings.CAREDESK_MAX_ATTACHMENT_BYTES = 1024
    response = _upload(_client(personas.alice), ticket, png() + b"\0" * 2048)
    assert response.status_code == 413 and "attachment limit" in response.json()["error"]
    assert not ComposerImage.objects.exists()


def test_only_signed_in_agents_may_upload(ticket):
    response = _upload(_client(None), ticket, png())
    assert response.status_code == 302 and "/agent/login/" in response["Location"]
    assert not ComposerImage.objects.exists()


def test_an_upload_without_the_csrf_token_is_refused(personas, ticket):
    response = _upload(_client(personas.alice, csrf=True), ticket, png())
    assert response.status_code == 403
    assert not ComposerImage.objects.exists()


def test_an_agent_who_cannot_see_the_ticket_cannot_upload_to_it(personas, ticket):
    response = _upload(_client(personas.carol), ticket, png())  # Carol is on Technical
    assert response.status_code == 404
    assert not ComposerImage.objects.exists()


def test_the_preview_shows_a_pending_image_only_to_its_uploader(personas, ticket):
    alice = _client(personas.alice)
    markdown = _upload(alice, ticket, png()).json()["markdown"]
    pending = ComposerImage.objects.get().attachment
    preview = alice.post("/agent/composer/preview/", {"body": f"Look:\n\n{markdown}"})
    url = f"/agent/composer/images/{pending.pk}/"
    assert f'src="{url}"' in preview.content.decode()
    fetched = alice.get(url)
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/png"
    assert b"".join(fetched.streaming_content) == png()
    assert _client(personas.bob).get(url).status_code == 404  # a teammate: not his draft


def _send(client: Client, ticket, body: str, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return client.post(
            f"/agent/tickets/{ticket.pk}/reply/",
            {"body": body, "format": "markdown", "recipients": "1", "reply_all": "1"},
        )


def test_sending_makes_the_images_inline_attachments_with_cid_in_the_html(
    personas, ticket, django_capture_on_commit_callbacks
):
    alice = _client(personas.alice)
    first = _upload(alice, ticket, png()).json()
    second = _upload(alice, ticket, png(rgb=(0, 90, 200)), name="graph.png").json()
    unused = _upload(alice, ticket, png(), name="dropped.png").json()
    body = f"Here is the screen:\n\n{first['markdown']}\n\nand the graph {second['markdown']}"
    _send(alice, ticket, body, django_capture_on_commit_callbacks)
    reply = Message.objects.get(ticket=ticket, author_agent=personas.alice)
    inline = {a.content_id: a for a in reply.attachments.all()}
    assert set(inline) == {first["content_id"], second["content_id"]}
    assert all(a.inline for a in inline.values())
    for cid in inline:
        assert f'src="cid:{cid}"' in reply.body_html
    # The image left out of the text stays a pending image of the draft; the sent ones do not.
    assert list(ComposerImage.objects.values_list("attachment__content_id", flat=True)) == [
        unused["content_id"]
    ]


def test_another_agents_pending_image_is_not_taken_by_a_reply(
    personas, ticket, django_capture_on_commit_callbacks
):
    markdown = _upload(_client(personas.bob), ticket, png()).json()["markdown"]
    _send(
        _client(personas.alice), ticket, f"Copied: {markdown}", django_capture_on_commit_callbacks
    )
    reply = Message.objects.get(ticket=ticket, author_agent=personas.alice)
    assert not reply.attachments.exists()
    assert ComposerImage.objects.get().owner == personas.bob


def test_the_ticket_page_and_portal_show_the_image_from_access_checked_urls(
    personas, ticket, django_capture_on_commit_callbacks
):
    alice = _client(personas.alice)
    upload = _upload(alice, ticket, png()).json()
    _send(alice, ticket, f"See {upload['markdown']}", django_capture_on_commit_callbacks)
    image = Attachment.objects.get(content_id=upload["content_id"])
    agent_url = f"/agent/attachments/{image.pk}/"

    page = alice.get(f"/agent/tickets/{ticket.pk}/").content.decode()
    assert f'<img src="{agent_url}" alt="screenshot.png">' in page
    assert b"".join(alice.get(agent_url).streaming_content) == png()
    # An agent of another team sees neither the ticket nor the image.
    carol = _client(personas.carol)
    assert carol.get(agent_url).status_code == 404

    portal = Client()
    session = portal.session
    session["portal_customer_id"] = ticket.requester_id
    session.save()
    request_page = portal.get(f"/help/requests/{ticket.pk}/").content.decode()
    portal_url = f"/help/files/{image.pk}/"
    assert f'<img src="{portal_url}" alt="screenshot.png">' in request_page
    assert "cid:" not in request_page
    assert b"".join(portal.get(portal_url).streaming_content) == png()
    stranger = Client()
    session = stranger.session
    session["portal_customer_id"] = factories.customer(email="x@example.test").pk
    session.save()
    assert stranger.get(portal_url).status_code == 404


@pytest.mark.parametrize(
    "src",
    [
        "https://tracker.example.test/p.gif",
        "//tracker.example.test/p.gif",
        "/\\tracker.example.test/p.gif",
        "data:image/png;base64,AAAA",
    ],
)
def test_the_sanitizer_drops_remote_image_sources(src):
    assert "src=" not in sanitize_html(f'<img src="{src}" alt="x">')


def test_the_sanitizer_keeps_cid_and_own_attachment_sources():
    assert 'src="cid:abc@caredesk"' in sanitize_html('<img src="cid:abc@caredesk">')
    assert 'src="/agent/attachments/7/"' in sanitize_html('<img src="/agent/attachments/7/">')


def test_images_of_drafts_never_sent_are_deleted_after_a_week(
    personas, ticket, django_capture_on_commit_callbacks
):
    from datetime import timedelta

    from django.utils import timezone

    from caredesk.agent.services import delete_unsent_composer_images

    alice = _client(personas.alice)
    old = _upload(alice, ticket, png(), name="old.png").json()
    recent = _upload(alice, ticket, png(), name="recent.png").json()
    sent = _upload(alice, ticket, png(), name="sent.png").json()
    _send(alice, ticket, sent["markdown"], django_capture_on_commit_callbacks)
    ComposerImage.objects.filter(attachment__content_id=old["content_id"]).update(
        created_at=timezone.now() - timedelta(days=8)
    )
    old_file = Attachment.objects.get(content_id=old["content_id"]).file
    storage, old_name = old_file.storage, old_file.name
    assert storage.exists(old_name)

    with django_capture_on_commit_callbacks(execute=True):
        assert delete_unsent_composer_images(timezone.now() + timedelta(days=1)) == 1

    left = set(Attachment.objects.values_list("content_id", flat=True))
    assert left == {recent["content_id"], sent["content_id"]}
    assert not storage.exists(old_name)
    assert ComposerImage.objects.get().attachment.content_id == recent["content_id"]
