"""Error pages (400, 403, 404, 500) are styled pages that say what happened, and every page names
an icon (no /favicon.ico 404 and console error on each page)."""

import pytest
from django.test import Client, RequestFactory

pytestmark = pytest.mark.django_db

ICON = '<link rel="icon" href="/static/caredesk/favicon.svg" type="image/svg+xml">'
STYLE = '<link rel="stylesheet" href="/static/caredesk/errors.css">'


def test_not_found_is_a_styled_page_with_a_way_back(client):
    response = client.get("/help/articles/no-such-article-anywhere/")
    page = response.content.decode()
    assert response.status_code == 404
    assert "We couldn't find that page" in page
    assert STYLE in page and ICON in page
    assert '<a href="/help/">Help centre</a>' in page


def test_server_error_page_is_styled_and_needs_no_context():
    from django.views.defaults import server_error

    response = server_error(RequestFactory().get("/anything/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in page and STYLE in page and ICON in page


def test_an_expired_form_says_so_and_that_nothing_was_saved(personas):
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/agent/login/", {"username": "alice@example.test", "password": "x"})
    page = response.content.decode()
    assert response.status_code == 403
    assert "This form has expired" in page and "nothing you sent was saved" in page
    assert STYLE in page


def test_forbidden_page_is_styled():
    from django.core.exceptions import PermissionDenied
    from django.views.defaults import permission_denied

    response = permission_denied(RequestFactory().get("/x/"), PermissionDenied())
    assert response.status_code == 403
    assert "You don't have access to this page" in response.content.decode()


@pytest.mark.parametrize("path", ["/help/", "/agent/login/", "/chat/demo/"])
def test_pages_name_the_icon(client, path):
    from caredesk.channels.chat.models import ChatWidget

    ChatWidget.objects.get_or_create(key="demo", defaults={"name": "Demo"})
    page = client.get(path).content.decode()
    assert ICON in page


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"] == "/static/caredesk/favicon.svg"
    icon = client.get("/static/caredesk/favicon.svg")
    assert icon.status_code == 200
    assert b"<svg" in b"".join(icon.streaming_content if icon.streaming else [icon.content])
