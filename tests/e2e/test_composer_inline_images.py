"""In a real browser: Insert image uploads the chosen file, puts its Markdown at the cursor,
and the preview shows the image; sending shows it in the conversation."""

import re

import pytest
from playwright.sync_api import expect

from caredesk.tickets.models import Attachment
from tests import factories
from tests.e2e.conftest import sign_in
from tests.images import png

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_insert_image_shows_it_in_the_preview_and_the_sent_reply(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    ticket = factories.ticket(team=team)
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")

    body = page.locator("#composer-body")
    body.fill("Before  after")
    body.evaluate("box => box.setSelectionRange(7, 7)")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Insert image").click()
    chooser.value.set_files({"name": "screen.png", "mimeType": "image/png", "buffer": png(8, 6)})
    expect(body).to_have_value(
        re.compile(r"^Before !\[screen\.png\]\(cid:[a-z]{24}@caredesk\) after$")
    )
    page.get_by_role("button", name="Preview").click()
    image = page.locator("#composer-preview img")
    expect(image).to_have_attribute("alt", "screen.png")
    expect(image).to_have_attribute("src", re.compile(r"^/agent/composer/images/\d+/$"))
    # Loaded and decoded by the browser (the CSP and the access check let it through).
    page.wait_for_function(
        "() => { const i = document.querySelector('#composer-preview img');"
        " return i && i.complete && i.naturalWidth === 8; }"
    )

    page.locator("#composer-submit").click()
    sent = page.locator(".timeline .msg-body img")
    expect(sent).to_have_count(1)
    stored = Attachment.objects.get(inline=True, message__isnull=False)
    expect(sent).to_have_attribute("src", f"/agent/attachments/{stored.pk}/")
    page.wait_for_function(
        "() => { const i = document.querySelector('.timeline .msg-body img');"
        " return i && i.complete && i.naturalWidth === 8; }"
    )


def test_pasting_an_image_into_the_reply_box_inserts_it(page, live_server):
    team = factories.team("Billing")
    agent = factories.agent(email="sam@example.test", name="Sam Agent", teams=[team])
    ticket = factories.ticket(team=team)
    sign_in(page, live_server.url, agent.email, factories.PASSWORD)
    page.goto(f"{live_server.url}/agent/tickets/{ticket.pk}/")

    body = page.locator("#composer-body")
    body.fill("Pasted: ")
    body.evaluate("box => box.setSelectionRange(8, 8)")
    # A paste event carrying an image file, as a screenshot copied to the clipboard gives.
    body.evaluate(
        """(box, bytes) => {
          const data = new DataTransfer();
          data.items.add(new File([new Uint8Array(bytes)], "image.png", { type: "image/png" }));
          box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        list(png(4, 4)),
    )
    expect(body).to_have_value(re.compile(r"^Pasted: !\[image\.png\]\(cid:[a-z]{24}@caredesk\)$"))
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#composer-preview img")).to_have_attribute("alt", "image.png")
