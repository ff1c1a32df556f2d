"""In a real browser: typing a request suggests articles; breadcrumbs lead back up."""

import pytest
from playwright.sync_api import expect

from caredesk.knowledge import services
from caredesk.knowledge.models import ArticleStatus, Category, Section

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_typing_a_request_suggests_articles_and_breadcrumbs_lead_back(page, live_server):
    category = Category.objects.create(name="Billing", slug="billing")
    section = Section.objects.create(category=category, name="Refunds")
    services.create_article(
        None,
        title="How refunds work",
        body="Refunds reach your card within five days.",
        section=section,
        status=ArticleStatus.PUBLISHED,
    )
    page.goto(f"{live_server.url}/help/requests/new/")
    suggested = page.locator("#suggested-articles")
    expect(suggested).to_be_empty()
    page.get_by_label("Subject").press_sequentially("Where is my refund")
    expect(suggested.get_by_role("link", name="How refunds work")).to_be_visible()

    href = suggested.get_by_role("link", name="How refunds work").get_attribute("href")
    page.goto(f"{live_server.url}{href}")
    breadcrumb = page.get_by_role("navigation", name="Breadcrumb")
    expect(breadcrumb).to_contain_text("Help centre")
    breadcrumb.get_by_role("link", name="Billing").click()
    expect(page.get_by_role("heading", name="Billing", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="How refunds work")).to_be_visible()
