"""An agent signs in, works a ticket end to end and merges two tickets, in a real browser."""

import pytest

from caredesk.operations.demo import DEMO_PASSWORD, load_demo
from caredesk.tickets.models import Message, Status, Ticket
from tests.e2e import conftest
from tests.e2e.conftest import screenshot

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server, email):
    conftest.sign_in(page, live_server.url, email, DEMO_PASSWORD)


def test_agent_works_a_ticket_and_merges_two(page, live_server):
    load_demo(tickets=80, customers=40)
    sign_in(page, live_server, "bea@demo.caredesk.test")
    page.goto(f"{live_server.url}/agent/?view=team")
    assert page.locator("tr[data-row]").count() > 5
    screenshot(page, "inbox.png")

    # Keyboard: j selects the first row, Enter opens it.
    page.keyboard.press("j")
    page.keyboard.press("Enter")
    page.wait_for_url("**/agent/tickets/*/")
    number = int(page.url.rstrip("/").rsplit("/", 1)[1])
    ticket = Ticket.objects.get(pk=number)
    if ticket.status == Status.CLOSED:
        pytest.fail("the team view should not list closed tickets")

    page.keyboard.press("r")
    page.locator("#composer-body").fill("Thanks, I have refunded the order.")
    page.get_by_role("button", name="Send").click()
    page.wait_for_selector("text=Reply sent.")
    page.keyboard.press("n")
    page.locator("#composer-body").fill("Refund approved by finance.")
    page.get_by_role("button", name="Add note").click()
    page.wait_for_selector("text=Note added.")
    page.get_by_label("Status", exact=True).select_option("pending")
    page.get_by_role("button", name="Save changes").click()
    page.wait_for_selector("text=Ticket updated.")
    assert Ticket.objects.get(pk=number).status == Status.PENDING
    assert Message.objects.filter(
        ticket_id=number, body_text="Refund approved by finance.", internal=True
    ).exists()
    page.locator("#workflow:not([aria-busy])").wait_for()  # the card loaded after the page
    screenshot(page, "ticket.png")

    other = (
        Ticket.objects.filter(team=ticket.team, status__in=["new", "open"])
        .exclude(pk=number)
        .exclude(merged_into__isnull=False)
        .first()
    )
    page.goto(f"{live_server.url}/agent/tickets/{other.pk}/")
    page.get_by_label("Merge this ticket into #").fill(str(number))
    page.locator("#merge-form button").click()
    page.wait_for_url(f"**/agent/tickets/{number}/")
    assert Ticket.objects.get(pk=other.pk).merged_into_id == number
    assert page.get_by_text(f"Merged #{other.pk} into #{number}.").is_visible()


def test_workspace_fits_a_phone_width(page, live_server):
    load_demo(tickets=10, customers=5)
    page.set_viewport_size({"width": 390, "height": 800})
    sign_in(page, live_server, "tom@demo.caredesk.test")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400
