"""Knowledge-base files and images (upload on the edit page, checked, served safely, shown in the
help centre) and the related-articles editor."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from caredesk.knowledge import services
from caredesk.knowledge.models import Article, ArticleFile

pytestmark = pytest.mark.django_db
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
PDF = b"%PDF-1.7\n" + b"x" * 64


@pytest.fixture
def article(personas):
    return services.create_article(
        personas.lead, title="Returning a parcel", body="Pack it well.", status="published"
    )


@pytest.fixture
def agent_client(client, personas):
    client.force_login(personas.alice)
    return client


def _upload(client, article, name, content, content_type="application/octet-stream"):
    return client.post(
        f"/agent/kb/{article.pk}/files/",
        {"files": SimpleUploadedFile(name, content, content_type=content_type)},
    )


def test_an_uploaded_image_renders_in_the_help_centre(agent_client, client, article):
    response = _upload(agent_client, article, "Box label (1).png", PNG, "image/png")
    assert response.status_code == 302
    item = ArticleFile.objects.get()
    assert item.filename == "Box-label-1.png" and item.content_type == "image/png"
    assert item.url == f"/help/files/{item.pk}/Box-label-1.png"
    page = agent_client.get(f"/agent/kb/{article.pk}/").content.decode()
    assert f"![Box-label-1.png]({item.url})" in page  # the Markdown to paste
    services.update_article(None, article, body=f"Label it:\n\n![label]({item.url})")
    agent_client.logout()
    help_page = client.get(f"/help/articles/{article.slug}/").content.decode()
    assert f'<img src="{item.url}" alt="label">' in help_page
    image = client.get(item.url)
    assert image.status_code == 200 and image["Content-Type"] == "image/png"
    assert b"".join(image.streaming_content) == PNG
    assert image["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in image["Content-Security-Policy"]
    assert "attachment" not in image.get("Content-Disposition", "")


def test_documents_download_with_the_checked_type(agent_client, article):
    _upload(
        agent_client, article, "returns.pdf", PDF, "text/html"
    )  # the browser's claim is ignored
    item = ArticleFile.objects.get()
    response = agent_client.get(item.url)
    assert response["Content-Type"] == "application/pdf"
    assert response["Content-Disposition"].startswith("attachment")


def test_an_oversize_file_is_refused_with_a_message(agent_client, article, settings):
    settings.CAREDESK_MAX_ATTACHMENT_BYTES = 32
    response = _upload(agent_client, article, "big.png", PNG, "image/png")
    assert response.status_code == 413
    assert "larger than" in response.content.decode()
    assert not ArticleFile.objects.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("drawing.svg", b'<svg onload="alert(1)"/>', "cannot be added to articles"),
        ("page.html", b"<script>alert(1)</script>", "cannot be added to articles"),
        ("setup.exe", b"MZ\x90\x00", "are not accepted"),
        ("noextension", b"data", "cannot be added to articles"),
        ("fake.png", b"<script>alert(1)</script>", "does not look like a .png file"),
        ("fake.pdf", PNG, "does not look like a .pdf file"),
        ("empty.txt", b"", "is empty"),
    ],
)
def test_disallowed_types_and_renamed_files_are_refused(
    agent_client, article, name, content, message
):
    response = _upload(agent_client, article, name, content)
    assert response.status_code in (400, 422)
    assert message in response.content.decode()
    assert not ArticleFile.objects.exists()


def test_an_upload_without_a_file_is_a_clear_400(agent_client, article):
    response = agent_client.post(f"/agent/kb/{article.pk}/files/", {})
    assert response.status_code == 400 and "Choose a file" in response.content.decode()


def test_customers_cannot_upload_and_see_only_public_published_files(
    client, personas, article, django_capture_on_commit_callbacks
):
    assert _upload(client, article, "a.png", PNG).status_code == 302  # to the sign-in page
    assert not ArticleFile.objects.exists()
    public = services.add_article_file(personas.alice, article, filename="a.png", content=PNG)
    draft = services.create_article(personas.alice, title="Draft", body="x")
    hidden = services.add_article_file(personas.alice, draft, filename="b.png", content=PNG)
    assert client.get(public.url).status_code == 200
    assert client.get(hidden.url).status_code == 404
    assert client.get(f"/help/files/{public.pk}/other-name.png").status_code == 404
    client.force_login(personas.bob)
    assert client.get(hidden.url).status_code == 200  # agents preview drafts with their images


def test_removing_a_file_deletes_it_from_storage(
    agent_client, article, django_capture_on_commit_callbacks
):
    _upload(agent_client, article, "a.png", PNG, "image/png")
    item = ArticleFile.objects.get()
    storage, name = item.file.storage, item.file.name
    assert storage.exists(name)
    with django_capture_on_commit_callbacks(execute=True):
        response = agent_client.post(f"/agent/kb/{article.pk}/files/{item.pk}/delete/")
    assert response.status_code == 302
    assert not ArticleFile.objects.exists() and not storage.exists(name)


def test_related_articles_are_edited_on_the_article_page(agent_client, client, personas, article):
    other = services.create_article(
        personas.lead,
        title="Refund timing",
        body="5 days.",
        status="published",
        slug="refund-timing",
    )
    assert (
        agent_client.post(
            f"/agent/kb/{article.pk}/related/", {"article": "refund-timing"}
        ).status_code
        == 302
    )
    assert list(article.related.all()) == [other]
    assert list(other.related.all()) == [article]  # both ways
    page = agent_client.get(f"/agent/kb/{article.pk}/").content.decode()
    assert "Refund timing" in page
    agent_client.logout()
    assert "Refund timing" in client.get(f"/help/articles/{article.slug}/").content.decode()
    client.force_login(personas.alice)
    assert client.post(f"/agent/kb/{article.pk}/related/{other.pk}/remove/").status_code == 302
    assert not article.related.exists() and not other.related.exists()


@pytest.mark.parametrize(
    ("reference", "status", "message"),
    [
        ("self", 422, "cannot be related to itself"),
        ("translation", 422, "is a translation of this article"),
        ("424242", 404, "No article"),
        ("", 404, "No article"),
    ],
)
def test_bad_related_articles_are_refused(
    agent_client, personas, article, reference, status, message
):
    if reference == "self":
        reference = str(article.pk)
    elif reference == "translation":
        fr = services.create_article(
            personas.lead, title="Retour", body="x", language="fr", translation_of=article
        )
        reference = str(fr.pk)
    response = agent_client.post(f"/agent/kb/{article.pk}/related/", {"article": reference})
    assert response.status_code == status
    assert message in response.content.decode()
    assert not article.related.exists()


def test_related_articles_are_capped(personas, article):
    from caredesk.core.errors import ValidationFailed

    for n in range(services.MAX_RELATED):
        services.add_related(
            personas.lead,
            article,
            services.create_article(personas.lead, title=f"Other {n}", body="x"),
        )
    with pytest.raises(ValidationFailed):
        services.add_related(
            personas.lead,
            article,
            services.create_article(personas.lead, title="One more", body="x"),
        )
    assert Article.objects.get(pk=article.pk).related.count() == services.MAX_RELATED


def test_a_translation_is_picked_by_title_and_an_unknown_pick_is_refused(agent_client, article):
    page = agent_client.get("/agent/kb/new/").content.decode()
    # A list of articles by title, not a box for an id.
    assert f'<option value="{article.pk}">{article.title} (en)</option>' in page
    assert 'inputmode="numeric"' not in page
    refused = agent_client.post(
        "/agent/kb/new/",
        {"title": "Retour", "body": "x", "language": "fr", "translation_of": "999999"},
    )
    assert "Pick the article this one translates" in refused.content.decode()
    assert not Article.objects.filter(title="Retour").exists()
    agent_client.post(
        "/agent/kb/new/",
        {"title": "Retour", "body": "x", "language": "fr", "translation_of": str(article.pk)},
    )
    assert Article.objects.get(title="Retour").group == article.group
