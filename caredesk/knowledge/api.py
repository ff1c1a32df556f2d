"""Knowledge-base API (/api/v1/kb/articles: articles, versions, translations, files and related
articles) and the one search endpoint (/api/v1/search)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from django.http import HttpRequest
from ninja import Field, File, Router, Schema
from ninja.files import UploadedFile

from caredesk.core.errors import NotFound, ValidationFailed
from caredesk.core.pagination import PageLimit, paginate
from caredesk.knowledge import services
from caredesk.knowledge.models import Article, ArticleFile, Section
from caredesk.knowledge.rendering import render_markdown
from caredesk.search.services import MAX_QUERY
from caredesk.search.services import search as run_search
from caredesk.tickets.services import check_attachment

router = Router(tags=["knowledge base"])
search_router = Router(tags=["search"])


class ArticleIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)
    body: str = Field("", max_length=500_000)
    language: str = Field("en", max_length=10)
    visibility: Literal["public", "internal"] = "public"
    section: int | None = None
    slug: str = Field("", max_length=160)
    translation_of: int | None = Field(None, description="Id of the article this translates")


class ArticlePatch(Schema):
    version: int | None = None
    title: str | None = Field(None, min_length=1, max_length=200)
    body: str | None = Field(None, max_length=500_000)
    visibility: Literal["public", "internal"] | None = None
    section: int | None = None
    status: Literal["draft", "review", "published", "archived"] | None = None


class ArticleOut(Schema):
    id: int
    group: int
    language: str
    slug: str
    title: str
    body: str
    html: str
    visibility: str
    status: str
    section_id: int | None
    version: int
    views: int
    helpful_yes: int
    helpful_no: int
    resolved_tickets: int
    updated_at: datetime
    published_at: datetime | None

    @staticmethod
    def resolve_html(obj: Article) -> str:
        return render_markdown(obj.body)


class ArticlePage(Schema):
    items: list[ArticleOut]
    next: str | None


class VersionOut(Schema):
    number: int
    title: str
    body: str
    author_id: int | None
    created_at: datetime


class ArticleFileOut(Schema):
    id: int
    filename: str
    content_type: str
    size: int
    sha256: str
    url: str = Field(..., description="Where readers fetch it (/help/files/...)")
    markdown: str = Field(..., description="What to paste into the body to show or link it")
    uploaded_by_id: int | None
    created_at: datetime

    @staticmethod
    def resolve_markdown(obj: ArticleFile) -> str:
        return f"{'!' if obj.is_image else ''}[{obj.filename}]({obj.url})"


class RelatedIn(Schema):
    article: str = Field(
        ...,
        min_length=1,
        max_length=300,
        description="The related article's id, slug or help-centre URL",
    )


class ArticleSummary(Schema):
    id: int
    slug: str
    title: str
    language: str
    status: str
    visibility: str


class SearchItem(Schema):
    type: str
    id: int
    title: str
    snippet: str
    url: str
    score: float


class SearchOut(Schema):
    items: list[SearchItem]


def _article(article_id: int) -> Article:
    article = Article.objects.filter(pk=article_id).first()
    if article is None:
        raise NotFound(f"Article {article_id} does not exist.")
    return article


def _section(section_id: int | None) -> Section | None:
    if section_id is None:
        return None
    section = Section.objects.filter(pk=section_id).first()
    if section is None:
        raise ValidationFailed(f"Section {section_id} does not exist.", code="unknown_section")
    return section


@router.get("/articles", response=ArticlePage)
def list_articles(
    request: HttpRequest,
    status: str = "",
    language: str = "",
    visibility: str = "",
    cursor: str | None = None,
    limit: PageLimit = 25,
) -> dict[str, Any]:
    qs = Article.objects.all()
    if status:
        qs = qs.filter(status=status)
    if language:
        qs = qs.filter(language=language)
    if visibility:
        qs = qs.filter(visibility=visibility)
    page = paginate(qs, order="id", cursor=cursor, limit=limit)
    return {"items": page.items, "next": page.next}


@router.post("/articles", response={201: ArticleOut})
def create_article(request: HttpRequest, payload: ArticleIn) -> tuple[int, Article]:
    translation_of = _article(payload.translation_of) if payload.translation_of else None
    article = services.create_article(
        request.user,
        title=payload.title,
        body=payload.body,
        language=payload.language,  # type: ignore[arg-type]
        visibility=payload.visibility,
        section=_section(payload.section),
        slug=payload.slug,
        translation_of=translation_of,
    )
    return 201, article


@router.get("/articles/{article_id}", response=ArticleOut)
def get_article(request: HttpRequest, article_id: int) -> Article:
    return _article(article_id)


@router.patch("/articles/{article_id}", response=ArticleOut)
def update_article(request: HttpRequest, article_id: int, payload: ArticlePatch) -> Article:
    article = _article(article_id)
    data = payload.dict(exclude_unset=True)
    status = data.pop("status", None)
    if any(k in data for k in ("title", "body", "visibility", "section")):
        article = services.update_article(
            request.user,
            article,
            title=data.get("title"),
            body=data.get("body"),  # type: ignore[arg-type]
            visibility=data.get("visibility"),
            section=_section(data.get("section")),
            expected_version=data.get("version"),
        )
    if status and status != article.status:
        article = services.set_status(request.user, article, status)  # type: ignore[arg-type]
    return _article(article.pk)


@router.delete("/articles/{article_id}", response={204: None})
def archive_article(request: HttpRequest, article_id: int) -> tuple[int, None]:
    """Articles are archived, not deleted: their history stays."""
    article = _article(article_id)
    if article.status != "archived":
        services.set_status(request.user, article, "archived")  # type: ignore[arg-type]
    return 204, None


@router.get("/articles/{article_id}/versions", response=list[VersionOut])
def versions(request: HttpRequest, article_id: int) -> list[Any]:
    return list(_article(article_id).versions.all()[:200])


@router.post("/articles/{article_id}/versions/{number}/restore", response=ArticleOut)
def restore(request: HttpRequest, article_id: int, number: int) -> Article:
    return services.restore_version(request.user, _article(article_id), number)  # type: ignore[arg-type]


@router.get("/articles/{article_id}/translations", response=list[ArticleOut])
def translations(request: HttpRequest, article_id: int) -> list[Article]:
    article = _article(article_id)
    return list(Article.objects.filter(group=article.group).order_by("language"))


# --- files and images --------------------------------------------------------------------------
# At most services.MAX_ARTICLE_FILES per article, so the list is one bounded page.


@router.get("/articles/{article_id}/files", response=list[ArticleFileOut])
def list_files(request: HttpRequest, article_id: int) -> list[ArticleFile]:
    return list(_article(article_id).files.all()[: services.MAX_ARTICLE_FILES])


@router.post("/articles/{article_id}/files", response={201: ArticleFileOut})
def upload_file(
    request: HttpRequest, article_id: int, file: File[UploadedFile]
) -> tuple[int, ArticleFile]:
    """Add a file or image (multipart/form-data, field `file`). Refused: files over the attachment
    size limit, types articles cannot hold, and content that does not match its extension."""
    article = _article(article_id)
    name = file.name or "file"
    check_attachment(name, file.size or 0)  # before reading an oversize upload into memory
    item = services.add_article_file(
        request.user,  # type: ignore[arg-type]
        article,
        filename=name,
        content=file.read(),
    )
    return 201, item


@router.delete("/articles/{article_id}/files/{file_id}", response={204: None})
def delete_file(request: HttpRequest, article_id: int, file_id: int) -> tuple[int, None]:
    item = ArticleFile.objects.filter(pk=file_id, article_id=_article(article_id).pk).first()
    if item is None:
        raise NotFound(f"Article {article_id} has no file {file_id}.")
    services.remove_article_file(request.user, item)  # type: ignore[arg-type]
    return 204, None


# --- related articles (symmetrical: each lists the other) ---------------------------------------


@router.get("/articles/{article_id}/related", response=list[ArticleSummary])
def list_related(request: HttpRequest, article_id: int) -> list[Article]:
    return list(_article(article_id).related.order_by("title")[: services.MAX_RELATED])


@router.post("/articles/{article_id}/related", response={201: list[ArticleSummary]})
def add_related(
    request: HttpRequest, article_id: int, payload: RelatedIn
) -> tuple[int, list[Article]]:
    """Relate another article (named by id, slug or URL); answers the article's related list."""
    article = _article(article_id)
    other = services.article_by_reference(payload.article)
    services.add_related(request.user, article, other)  # type: ignore[arg-type]
    return 201, list(article.related.order_by("title")[: services.MAX_RELATED])


@router.delete("/articles/{article_id}/related/{other_id}", response={204: None})
def remove_related(request: HttpRequest, article_id: int, other_id: int) -> tuple[int, None]:
    article = _article(article_id)
    other = article.related.filter(pk=other_id).first()
    if other is None:
        raise NotFound(f"Article {other_id} is not related to article {article_id}.")
    services.remove_related(request.user, article, other)  # type: ignore[arg-type]
    return 204, None


@search_router.get("", response=SearchOut)
def search(
    request: HttpRequest,
    q: str = "",
    type: str = "article,ticket,customer",
    limit: Annotated[int, Field(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """Ranked results with highlighted snippets across articles, tickets and customers you may see."""
    kinds = [k for k in type.split(",") if k in ("article", "ticket", "customer")]
    if not kinds:
        raise ValidationFailed(
            "type is article, ticket or customer (comma-separated).", code="bad_type"
        )
    if not 1 <= limit <= 100:
        raise ValidationFailed("limit must be between 1 and 100.", code="bad_limit")
    hits = (
        run_search(q[:MAX_QUERY], types=kinds, agent=request.user, limit=limit) if q.strip() else []
    )  # type: ignore[arg-type]
    return {"items": [h.__dict__ for h in hits]}
