"""A customer submits the web form, signs in with the emailed link and replies, in a real browser."""

import re

import pytest
from django.core import mail
from django.core.cache import cache

from caredesk.tickets.models import Message, Ticket
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_customer_submits_signs_in_and_replies(page, live_server):
    cache.clear()
    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Submit a request").first.click()
    page.get_by_label("Your name").fill("Casey Customer")
    page.get_by_label("Your email address").fill("casey@example.test")
    page.get_by_label("Subject").fill("My parcel never arrived")
    page.get_by_label("How can we help?").fill("Order 5521 was due last week.")
    screenshot(page, "portal.png")
    page.get_by_role("button", name="Submit").click()
    page.wait_for_url("**/help/requests/thanks/")
    ticket = Ticket.objects.get(subject="My parcel never arrived")
    assert page.get_by_text(f"#{ticket.pk}").is_visible()

    # Later, on another device: ask for a sign-in link and use it.
    page.goto(f"{live_server.url}/help/signin/")
    page.get_by_label("Email address").fill("casey@example.test")
    page.get_by_role("button", name="Email me a sign-in link").click()
    page.wait_for_selector("text=on its way")
    link = re.search(r"(/help/auth/[\w-]+/)", mail.outbox[-1].body).group(1)
    page.goto(f"{live_server.url}{link}")
    page.wait_for_url("**/help/requests/")
    page.get_by_role("link", name="My parcel never arrived").click()
    page.get_by_label("Add a reply").fill("The tracking number is ZX81.")
    page.get_by_role("button", name="Send reply").click()
    page.wait_for_selector("text=Your reply was sent.")
    assert Message.objects.filter(
        ticket=ticket, body_text="The tracking number is ZX81.", author_kind="customer"
    ).exists()
