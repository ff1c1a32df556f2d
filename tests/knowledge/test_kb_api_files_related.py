"""The knowledge-base API for article files/images and related articles: the same checks as the
edit page (size, type, content), per-object errors, token scopes, and nothing half-stored."""

from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from caredesk.accounts.services import create_token
from caredesk.knowledge import services
from caredesk.knowledge.models import ArticleFile

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64


@pytest.fixture
def article(personas):
    return services.create_article(
        personas.lead, title="Returning a parcel", body="Pack it well.", status="published"
    )


@pytest.fixture
def api(client, personas):
    client.force_login(personas.alice)
    return client


def _upload(client, article_id, name, content, content_type="application/octet-stream", **kw):
    return client.post(
        f"/api/v1/kb/articles/{article_id}/files",
        {"file": SimpleUploadedFile(name, content, content_type=content_type)},
        **kw,
    )


def test_files_are_uploaded_listed_and_removed(api, article, personas):
    created = _upload(api, article.pk, "Box label (1).png", PNG, "text/html")
    assert created.status_code == 201, created.content
    item = created.json()
    assert item["filename"] == "Box-label-1.png"
    assert item["content_type"] == "image/png"  # the checked type, not the browser's claim
    assert item["size"] == len(PNG) and item["uploaded_by_id"] == personas.alice.pk
    assert item["markdown"] == f"![Box-label-1.png]({item['url']})"
    pdf = _upload(api, article.pk, "returns.pdf", PDF).json()
    assert pdf["markdown"] == f"[returns.pdf]({pdf['url']})"
    listed = api.get(f"/api/v1/kb/articles/{article.pk}/files").json()
    assert [f["id"] for f in listed] == [item["id"], pdf["id"]]
    assert api.get(item["url"]).status_code == 200
    assert api.delete(f"/api/v1/kb/articles/{article.pk}/files/{item['id']}").status_code == 204
    assert list(ArticleFile.objects.values_list("pk", flat=True)) == [pdf["id"]]


@pytest.mark.parametrize(
    ("name", "content", "status", "code"),
    [
        ("script.exe", b"MZ" + b"\x00" * 30, 422, "attachment_type"),
        ("page.html", b"<script>alert(1)</script>", 422, "attachment_type"),
        ("fake.png", b"<svg onload=alert(1)>", 422, "attachment_content"),
        ("fake.pdf", PNG, 422, "attachment_content"),
        ("empty.png", b"", 422, "attachment_empty"),
        ("noextension", b"data", 422, "attachment_type"),
    ],
)
def test_bad_uploads_are_refused_with_a_reason_and_nothing_stored(
    api, article, name, content, status, code
):
    response = _upload(api, article.pk, name, content)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert not ArticleFile.objects.exists()


def test_an_oversize_upload_is_a_413(api, article, settings):
    settings.CAREDESK_MAX_ATTACHMENT_BYTES = 32
    response = _upload(api, article.pk, "big.png", PNG)
    assert (
        response.status_code == 413 and response.json()["error"]["code"] == "attachment_too_large"
    )
    assert not ArticleFile.objects.exists()


def test_an_upload_without_a_file_or_to_a_missing_article_is_refused(api, article):
    assert api.post(f"/api/v1/kb/articles/{article.pk}/files").status_code == 422
    assert _upload(api, 999999, "a.png", PNG).status_code == 404
    assert not ArticleFile.objects.exists()


def test_a_file_is_removed_only_through_its_own_article(api, article, personas):
    other = services.create_article(personas.lead, title="Other", body="x")
    item = services.add_article_file(personas.alice, article, filename="a.png", content=PNG)
    assert api.delete(f"/api/v1/kb/articles/{other.pk}/files/{item.pk}").status_code == 404
    assert api.delete(f"/api/v1/kb/articles/{article.pk}/files/999999").status_code == 404
    assert ArticleFile.objects.filter(pk=item.pk).exists()


def test_read_tokens_list_but_cannot_upload_and_customers_get_nothing(client, article, personas):
    read = create_token(personas.bob, scope="read").token
    headers = {"HTTP_AUTHORIZATION": f"Bearer {read}"}
    assert client.get(f"/api/v1/kb/articles/{article.pk}/files", **headers).status_code == 200
    assert _upload(client, article.pk, "a.png", PNG, **headers).status_code == 403
    assert client.get(f"/api/v1/kb/articles/{article.pk}/related").status_code == 401
    assert _upload(client, article.pk, "a.png", PNG).status_code == 401
    assert not ArticleFile.objects.exists()


def _relate(client, article_id, reference):
    return client.post(
        f"/api/v1/kb/articles/{article_id}/related",
        json.dumps({"article": reference}),
        content_type="application/json",
    )


def test_related_articles_are_added_both_ways_and_removed(api, article, personas):
    other = services.create_article(
        personas.lead, title="Refund timing", body="x", slug="refund-timing"
    )
    response = _relate(api, article.pk, "/help/articles/refund-timing/")
    assert response.status_code == 201, response.content
    assert [a["id"] for a in response.json()] == [other.pk]
    assert [a["title"] for a in api.get(f"/api/v1/kb/articles/{other.pk}/related").json()] == [
        article.title
    ]
    assert _relate(api, article.pk, str(other.pk)).status_code == 201  # twice is one relation
    assert article.related.count() == 1
    assert api.delete(f"/api/v1/kb/articles/{article.pk}/related/{other.pk}").status_code == 204
    assert not other.related.exists()
    assert api.delete(f"/api/v1/kb/articles/{article.pk}/related/{other.pk}").status_code == 404


@pytest.mark.parametrize(
    ("reference", "status", "code"),
    [
        ("self", 422, "related_self"),
        ("translation", 422, "related_translation"),
        ("no-such-article", 404, "no_article"),
        ("", 422, None),
        ("x" * 301, 422, None),
    ],
)
def test_bad_related_articles_are_refused(api, article, personas, reference, status, code):
    if reference == "self":
        reference = str(article.pk)
    elif reference == "translation":
        reference = str(
            services.create_article(
                personas.lead, title="Retour", body="x", language="fr", translation_of=article
            ).pk
        )
    response = _relate(api, article.pk, reference)
    assert response.status_code == status, response.content
    if code:
        assert response.json()["error"]["code"] == code
    assert not article.related.exists()


def test_related_articles_are_capped(api, article, personas):
    for n in range(services.MAX_RELATED):
        other = services.create_article(personas.lead, title=f"Other {n}", body="x")
        assert _relate(api, article.pk, str(other.pk)).status_code == 201
    extra = services.create_article(personas.lead, title="One too many", body="x")
    response = _relate(api, article.pk, str(extra.pk))
    assert response.status_code == 422 and response.json()["error"]["code"] == "too_many_related"
    assert len(api.get(f"/api/v1/kb/articles/{article.pk}/related").json()) == services.MAX_RELATED
