"""The customer portal: request form (honeypot, rate limit, attachments), magic-link sign-in,
my requests, replies, and that a customer sees only their own tickets."""

import re

import pytest
from django.core import mail
from django.core.cache import cache
from django.test import Client

from caredesk.customers.models import Customer
from caredesk.portal.models import MagicLink
from caredesk.tickets.models import Message, Status, Ticket
from caredesk.tickets.services import change_status, post_message
from tests import factories

pytestmark = pytest.mark.django_db

FORM = {
    "name": "Robin Reader",
    "email": "robin@example.test",
    "subject": "Cannot log in",
    "body": "It says error 42.",
}


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def link_from_outbox():
    match = re.search(r"/help/auth/([\w-]+)/", mail.outbox[-1].body)
    assert match, mail.outbox[-1].body
    return f"/help/auth/{match.group(1)}/"


def signed_in(customer):
    client = Client()
    session = client.session
    session["portal_customer_id"] = customer.pk
    session.save()
    return client


def test_submitting_the_form_creates_a_web_ticket_and_emails_a_link(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/help/requests/new/", FORM)
    assert response.status_code == 302 and response["Location"] == "/help/requests/thanks/"
    ticket = Ticket.objects.get()
    assert ticket.channel == "web" and ticket.requester.email == "robin@example.test"
    assert ticket.messages.get().body_text == "It says error 42."
    assert f"#{ticket.pk}" in mail.outbox[-1].subject
    # The link in the email signs the customer in and shows the request.
    landing = client.get(link_from_outbox())
    assert landing["Location"] == "/help/requests/"
    assert "Cannot log in" in client.get("/help/requests/").content.decode()


def test_honeypot_submission_stores_nothing_but_looks_normal(client):
    response = client.post("/help/requests/new/", {**FORM, "website": "http://spam.test"})
    assert response.status_code == 302 and response["Location"] == "/help/requests/thanks/"
    assert not Ticket.objects.exists() and not Customer.objects.exists()


def test_form_is_rate_limited(client):
    for i in range(5):
        client.post("/help/requests/new/", {**FORM, "subject": f"try {i}"})
    response = client.post("/help/requests/new/", FORM)
    assert response.status_code == 429
    assert Ticket.objects.count() == 5


@pytest.mark.parametrize("bad", [{"email": "not-an-email"}, {"subject": ""}, {"body": "  "}])
def test_bad_form_input_is_explained_and_nothing_is_created(client, bad):
    response = client.post("/help/requests/new/", {**FORM, **bad})
    assert response.status_code == 400 and b'role="alert"' in response.content
    assert not Ticket.objects.exists()


def test_oversize_or_blocked_attachment_is_refused_clearly(client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.CAREDESK_MAX_ATTACHMENT_BYTES = 100
    big = SimpleUploadedFile("big.pdf", b"x" * 200, content_type="application/pdf")
    response = client.post("/help/requests/new/", {**FORM, "files": [big]})
    assert response.status_code == 400 and "attachment limit" in response.content.decode()
    exe = SimpleUploadedFile("run.exe", b"MZ", content_type="application/octet-stream")
    response = client.post("/help/requests/new/", {**FORM, "files": [exe]})
    assert response.status_code == 400 and ".exe" in response.content.decode()
    assert not Ticket.objects.exists()
    ok = SimpleUploadedFile("photo.png", b"png", content_type="image/png")
    client.post("/help/requests/new/", {**FORM, "files": [ok]})
    assert Ticket.objects.get().messages.get().attachments.get().filename == "photo.png"


def test_magic_link_is_single_use_and_expires(client, django_capture_on_commit_callbacks):
    customer = factories.customer(email="sam@example.test")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/help/signin/", {"email": "sam@example.test"})
    assert "on its way" in response.content.decode()
    link = link_from_outbox()
    assert client.get(link).status_code == 302
    assert Client().get(link).status_code == 400  # used
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/help/signin/", {"email": "sam@example.test"})
    from datetime import timedelta

    from django.utils import timezone

    MagicLink.objects.filter(used_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Client().get(link_from_outbox()).status_code == 400
    assert MagicLink.objects.filter(customer=customer).count() == 2
    assert all(len(m.token_hash) == 64 for m in MagicLink.objects.all())


def test_sign_in_does_not_reveal_unknown_addresses(client):
    response = client.post("/help/signin/", {"email": "nobody@example.test"})
    assert "on its way" in response.content.decode()
    assert mail.outbox == []


def test_customer_sees_only_their_own_tickets_and_no_internal_notes(personas):
    mine = factories.ticket(subject="Mine")
    other = factories.ticket(subject="Someone else's")
    post_message(personas.alice, mine, body_text="Public answer")
    post_message(personas.alice, mine, body_text="SECRET internal remark", internal=True)
    client = signed_in(mine.requester)
    listing = client.get("/help/requests/").content.decode()
    assert "Mine" in listing and "Someone else" not in listing
    page = client.get(f"/help/requests/{mine.pk}/").content.decode()
    assert "Public answer" in page and "SECRET" not in page
    assert client.get(f"/help/requests/{other.pk}/").status_code == 404


def test_organization_members_see_shared_tickets_only_when_granted():
    org = factories.organization(name="Acme", shared_tickets=False)
    a = factories.customer(email="a@acme.test", organization=org)
    b = factories.customer(email="b@acme.test", organization=org)
    ticket = factories.ticket(requester=a, subject="Acme outage")
    Ticket.objects.filter(pk=ticket.pk).update(organization=org)
    assert signed_in(b).get(f"/help/requests/{ticket.pk}/").status_code == 404
    org.shared_tickets = True
    org.save()
    assert signed_in(b).get(f"/help/requests/{ticket.pk}/").status_code == 200


def test_customer_reply_reopens_a_solved_request(personas):
    ticket = factories.ticket()
    change_status(personas.alice, ticket, Status.SOLVED)
    client = signed_in(ticket.requester)
    client.post(f"/help/requests/{ticket.pk}/", {"body": "Still broken, sorry"})
    ticket.refresh_from_db()
    assert ticket.status == Status.OPEN
    assert Message.objects.filter(ticket=ticket, author_kind="customer").count() == 2


def test_empty_reply_and_reply_to_closed_request_are_refused(personas):
    ticket = factories.ticket()
    client = signed_in(ticket.requester)
    response = client.post(f"/help/requests/{ticket.pk}/", {"body": "   "}, follow=True)
    assert "The message is empty." in response.content.decode()
    change_status(personas.alice, ticket, Status.CLOSED)
    response = client.post(f"/help/requests/{ticket.pk}/", {"body": "hello?"}, follow=True)
    assert "submit a new request" in response.content.decode().lower()
    assert ticket.messages.count() == 1


def test_script_in_customer_fields_is_inert(client, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            "/help/requests/new/",
            {
                **FORM,
                "subject": "<script>alert(1)</script>",
                "body": "<img src=x onerror=alert(2)>",
            },
        )
    client.get(link_from_outbox())
    ticket = Ticket.objects.get()
    page = client.get(f"/help/requests/{ticket.pk}/").content.decode()
    assert "<script>alert(1)" not in page and "<img src=x onerror" not in page


def test_forged_csrf_is_refused():
    browser = Client(enforce_csrf_checks=True)
    assert browser.post("/help/requests/new/", FORM).status_code == 403
    assert not Ticket.objects.exists()


def test_requests_need_sign_in(client):
    assert client.get("/help/requests/")["Location"].startswith("/help/signin/")
