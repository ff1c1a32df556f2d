"""A visitor searches the help centre while typing, opens an article and votes, in a real browser."""

import pytest

from caredesk.knowledge.models import Article
from caredesk.knowledge.services import load_demo_faq
from caredesk.search.services import index_article

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_search_open_article_and_vote(page, live_server):
    load_demo_faq()
    for article in Article.objects.all():
        index_article(article)
    page.goto(f"{live_server.url}/help/")
    page.get_by_label("Search the help centre").type("refund", delay=30)
    link = page.get_by_role("link", name="Where is my refund?")
    link.wait_for()
    link.click()
    page.wait_for_url("**/help/articles/refund-status/")
    assert page.get_by_role("heading", name="Where is my refund?").is_visible()
    page.get_by_role("button", name="Yes").click()
    page.get_by_text("Thanks for your feedback!").wait_for()
    article = Article.objects.get(slug="refund-status")
    assert article.helpful_yes == 1 and article.views == 1
