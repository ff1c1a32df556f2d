"""Help-centre deflection: a search session (one visitor's searches on one day) is deflected when
no request follows it. The portal form marks the session; the KB page reports the rate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from caredesk.knowledge import services
from caredesk.knowledge.models import SearchLog

pytestmark = pytest.mark.django_db
FORM = {"name": "Robin", "email": "robin@example.test", "subject": "Refund", "body": "Where is it?"}


@pytest.fixture
def faq(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.load_demo_faq()


def _report():
    return services.deflection_report(since=timezone.now() - timedelta(days=1))


def test_searching_then_writing_in_marks_the_whole_search_session(client, faq):
    client.get("/help/search", {"q": "refund"})
    client.get("/help/search", {"q": "refund status"})
    client.get("/help/search", {"q": "money back"})
    assert client.post("/help/requests/new/", FORM).status_code == 302
    assert SearchLog.objects.count() == 3
    assert not SearchLog.objects.filter(created_ticket=False).exists()
    report = _report()
    assert (report.search_sessions, report.led_to_request, report.deflected) == (1, 1, 0)
    assert report.rate == 0.0


def test_searching_without_writing_in_counts_as_deflected(client, faq):
    from django.test import Client

    client.get("/help/search", {"q": "password"})
    client.get("/help/articles/refund-status/")
    other = Client()
    other.get("/help/search", {"q": "refund"})
    other.post("/help/requests/new/", FORM)
    report = _report()
    assert (report.search_sessions, report.deflected, report.opened_article) == (2, 1, 1)
    assert report.rate == 0.5


def test_a_request_without_searching_is_not_a_search_session(client, faq):
    client.post("/help/requests/new/", FORM)
    assert _report().search_sessions == 0 and _report().rate is None


def test_old_searches_of_the_same_session_are_not_blamed(client, faq):
    client.get("/help/search", {"q": "voucher"})
    SearchLog.objects.update(created_at=timezone.now() - services.DEFLECTION_WINDOW * 2)
    client.get("/help/search", {"q": "refund"})
    client.post("/help/requests/new/", FORM)
    assert list(SearchLog.objects.order_by("id").values_list("created_ticket", flat=True)) == [
        False,
        True,
    ]


def test_searches_follow_the_visitor_through_sign_in(
    client, faq, django_capture_on_commit_callbacks
):
    from tests import factories

    factories.customer(email="sam@example.test")
    client.get("/help/search", {"q": "refund"})
    before = client.session.session_key
    with django_capture_on_commit_callbacks(execute=True):  # the link is mailed after commit
        client.post("/help/signin/", {"email": "sam@example.test"})
    link = next(w for w in mail.outbox[-1].body.split() if "/help/auth/" in w)
    client.get(link.replace("http://testserver", "").rstrip("."))
    assert client.session.session_key != before
    client.post("/help/requests/new/", {**FORM, "email": "sam@example.test"})
    assert SearchLog.objects.get().created_ticket is True


def test_the_knowledge_base_page_shows_the_rate(client, personas, faq):
    from django.test import Client

    visitor = Client()
    visitor.get("/help/search", {"q": "refund"})
    client.force_login(personas.alice)
    page = client.get("/agent/kb/").content.decode()
    assert "1 search session," in page and "1 without a request afterwards (100%)" in page
