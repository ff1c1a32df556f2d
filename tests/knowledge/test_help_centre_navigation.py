"""Help-centre navigation and deflection: suggestions while typing a request, breadcrumbs,
category pages, related articles and last-updated dates."""

from __future__ import annotations

import pytest

from caredesk.knowledge import services
from caredesk.knowledge.models import ArticleStatus, Category, Section, Visibility

pytestmark = pytest.mark.django_db


@pytest.fixture
def kb(django_capture_on_commit_callbacks):
    billing = Category.objects.create(name="Billing & payments", slug="billing")
    staff = Category.objects.create(name="Staff only", slug="staff", internal=True)
    refunds = Section.objects.create(category=billing, name="Refunds")
    with django_capture_on_commit_callbacks(execute=True):
        articles = {
            "refund": services.create_article(
                None,
                title="How refunds work",
                body="Refunds reach your card within five days.",
                section=refunds,
                status=ArticleStatus.PUBLISHED,
            ),
            "late": services.create_article(
                None,
                title="My refund is late",
                body="If a refund is late after ten days, write to us.",
                section=refunds,
                status=ArticleStatus.PUBLISHED,
            ),
            "internal": services.create_article(
                None,
                title="Refund approval limits",
                body="Agents may refund up to 100 without approval.",
                section=refunds,
                visibility=Visibility.INTERNAL,
                status=ArticleStatus.PUBLISHED,
            ),
            "draft": services.create_article(
                None,
                title="Refund draft",
                body="Refund text not ready.",
                section=refunds,
            ),
        }
    return billing, staff, articles


def test_typing_a_request_suggests_public_articles_only(client, kb):
    fragment = client.get(
        "/help/suggest", {"subject": "refund", "body": "where is my refund?"}
    ).content.decode()
    assert "How refunds work" in fragment and "My refund is late" in fragment
    assert "approval limits" not in fragment and "Refund draft" not in fragment
    as_json = client.get(
        "/help/suggest", {"subject": "late refund"}, HTTP_ACCEPT="application/json"
    ).json()
    titles = [a["title"] for a in as_json["articles"]]
    assert titles[0] == "My refund is late" and "Refund approval limits" not in titles
    assert as_json["articles"][0]["url"] == f"/help/articles/{kb[2]['late'].slug}/"
    assert client.get("/help/suggest", {"subject": ""}).content.decode().strip() == ""
    form = client.get("/help/requests/new/").content.decode()
    assert 'hx-get="/help/suggest"' in form and 'id="suggested-articles"' in form


def test_suggestions_are_rate_limited_per_address(client, kb, settings):
    from caredesk.knowledge import views

    for _ in range(views.SUGGEST_PER_MINUTE):
        assert client.get("/help/suggest", {"subject": "refund"}).status_code == 200
    refused = client.get("/help/suggest", {"subject": "refund"})
    assert refused.status_code == 429 and "Too many attempts" in refused.content.decode()
    assert (
        client.get("/help/suggest", {"subject": "refund"}, HTTP_ACCEPT="application/json").json()[
            "error"
        ]
        == "Too many attempts. Please wait a few minutes and try again."
    )


def test_article_page_has_breadcrumbs_categories_related_and_date(client, kb):
    billing, staff, articles = kb
    page = client.get(f"/help/articles/{articles['refund'].slug}/").content.decode()
    start = page.index('aria-label="Breadcrumb"')
    crumbs = page[start : page.index("</nav>", start)]
    assert '<a href="/help/">Help centre</a>' in crumbs
    assert '<a href="/help/categories/billing/">Billing &amp; payments</a>' in crumbs
    assert "<li>Refunds</li>" in crumbs and "How refunds work</li>" in crumbs
    assert 'aria-label="Categories"' in page and "Staff only" not in page
    # No related links were set: the section's other public articles stand in.
    related = page[page.index("Related articles") :]
    assert "My refund is late" in related and "approval limits" not in related
    updated = articles["refund"].updated_at
    assert f'Last updated <time datetime="{updated.isoformat()}' in page


def test_linked_related_articles_come_first(client, kb):
    _, _, articles = kb
    other = Section.objects.create(category=kb[0], name="Other")
    with_link = services.create_article(
        None, title="Payment methods", body="Cards.", section=other, status="published"
    )
    articles["refund"].related.add(with_link)
    page = client.get(f"/help/articles/{articles['refund'].slug}/").content.decode()
    related = page[page.index("Related articles") :]
    assert "Payment methods" in related and "My refund is late" not in related


def test_category_page_lists_its_public_articles(client, kb):
    billing, staff, articles = kb
    page = client.get("/help/categories/billing/").content.decode()
    assert "<h1>Billing &amp; payments</h1>" in page and "<h2>Refunds</h2>" in page
    assert "How refunds work" in page and "My refund is late" in page
    assert "approval limits" not in page and "Refund draft" not in page
    assert client.get("/help/categories/staff/").status_code == 404
    home = client.get("/help/").content.decode()
    assert '<a href="/help/categories/billing/">Billing &amp; payments</a>' in home
