"""Help-centre article pages and search (/help/), and the agents' knowledge-base editor (/agent/kb/)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape
from django.views.decorators.http import require_POST

from caredesk.core.errors import DomainError, NotFound, ValidationFailed
from caredesk.core.ratelimit import RateLimited, hit_rate_limit
from caredesk.knowledge import services
from caredesk.knowledge.models import (
    Article,
    ArticleFile,
    ArticleStatus,
    Category,
    Section,
    Visibility,
)
from caredesk.knowledge.rendering import markdown_to_text, render_markdown
from caredesk.portal.views import client_ip, current_customer
from caredesk.search.services import MAX_QUERY, search
from caredesk.tickets.services import check_attachment


def _language(request: HttpRequest) -> str:
    customer = current_customer(request)
    if customer is not None and customer.language:
        return customer.language
    header = request.headers.get("Accept-Language", "")
    return header.split(",")[0].split(";")[0].strip().lower()[:10] if header else "en"


def help_search(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    error = ""
    hits = []
    if len(query) > MAX_QUERY:
        error = f"That search is too long; only the first {MAX_QUERY} characters were used."
    try:
        hit_rate_limit("help-search", client_ip(request), limit=120, window_seconds=60)
        hits = search(query, types=("article",), limit=20) if query.strip() else []
    except RateLimited as exc:
        error = exc.message
    if query.strip():
        if not request.session.session_key:
            request.session.save()
        services.log_search(query, len(hits), request.session.session_key or "")
    template = "knowledge/_results.html" if request.htmx else "knowledge/search.html"  # type: ignore[attr-defined]
    return render(
        request,
        template,
        {
            "query": query[:MAX_QUERY],
            "hits": hits,
            "error": error,
            "customer": current_customer(request),
        },
    )


SUGGEST_PER_MINUTE = 60


def help_suggest(request: HttpRequest) -> HttpResponse:
    """Articles that may answer a request while the customer types it (the request form's
    deflection): an htmx fragment, or JSON for `Accept: application/json`. Rate limited per
    address, like the search."""
    text = " ".join(request.GET.get(k, "") for k in ("subject", "body", "q"))[:MAX_QUERY]
    wants_json = "application/json" in request.headers.get("Accept", "")
    try:
        hit_rate_limit(
            "help-suggest", client_ip(request), limit=SUGGEST_PER_MINUTE, window_seconds=60
        )
    except RateLimited as exc:
        if wants_json:
            return JsonResponse({"error": exc.message}, status=429)
        return HttpResponse(f'<p class="muted">{escape(exc.message)}</p>', status=429)
    articles = services.articles_matching(text, limit=5, public_only=True) if text.strip() else []
    if wants_json:
        return JsonResponse(
            {
                "articles": [
                    {"title": a.title, "url": reverse("knowledge:article", args=[a.slug])}
                    for a in articles
                ]
            }
        )
    return render(request, "knowledge/_deflection.html", {"articles": articles})


def category_page(request: HttpRequest, slug: str) -> HttpResponse:
    """A help-centre category: its sections and their published public articles."""
    category = get_object_or_404(Category, slug=slug, internal=False)
    return render(
        request,
        "knowledge/category.html",
        {
            "category": category,
            "sections": services.category_sections(category),
            "categories": services.public_categories(),
            "customer": current_customer(request),
        },
    )


def article_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        article = services.article_for_language(slug, _language(request))
    except NotFound as exc:
        raise Http404(exc.message) from exc
    services.record_view(article)
    if request.session.session_key:
        services.mark_deflection(request.session.session_key, opened_article=article)
    translations = Article.objects.filter(
        group=article.group, status=ArticleStatus.PUBLISHED, visibility=Visibility.PUBLIC
    ).exclude(pk=article.pk)
    section = article.section
    return render(
        request,
        "knowledge/article.html",
        {
            "article": article,
            "section": section,
            "category": section.category if section and not section.category.internal else None,
            "categories": services.public_categories(),
            "html": render_markdown(article.body),
            "translations": translations,
            "related": services.related_articles(article),
            "voted": request.session.get(f"voted-{article.group}"),
            "customer": current_customer(request),
        },
    )


@require_POST
def vote(request: HttpRequest, slug: str) -> HttpResponse:
    article = get_object_or_404(
        Article, slug=slug, status=ArticleStatus.PUBLISHED, visibility=Visibility.PUBLIC
    )
    key = f"voted-{article.group}"
    if not request.session.get(key):
        services.record_feedback(article, request.POST.get("helpful") == "yes")
        request.session[key] = request.POST.get("helpful") == "yes" and "yes" or "no"
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse('<p class="voted" role="status">Thanks for your feedback!</p>')
    return redirect("knowledge:article", slug=article.slug)


def help_file(request: HttpRequest, file_id: int, filename: str) -> HttpResponse:
    """An article's file or image. Images show inline, everything else downloads; the type is the
    one checked at upload, and the response may not run anything even when opened directly."""
    item = (
        ArticleFile.objects.select_related("article").filter(pk=file_id, filename=filename).first()
    )
    if item is None or not services.can_read_article_file(request.user, item):
        raise Http404("No such file.")
    response = FileResponse(
        item.file.open("rb"),
        content_type=item.content_type,
        as_attachment=not item.is_image,
        filename=item.filename,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    return response


def help_home_articles(request: HttpRequest) -> list[Category]:
    return list(Category.objects.filter(internal=False).prefetch_related("sections__articles"))


# --- agent side -------------------------------------------------------------------------------


@login_required
def kb_list(request: HttpRequest) -> HttpResponse:
    query = request.GET.get("q", "")
    articles = Article.objects.select_related("section__category").order_by("title")
    if query:
        ids = [h.id for h in search(query, types=("article",), agent=request.user, limit=50)]  # type: ignore[arg-type]
        articles = articles.filter(pk__in=ids)
    return render(
        request,
        "knowledge/agent_list.html",
        {
            "articles": articles[:500],
            "query": query,
            "deflection": services.deflection_report(since=timezone.now() - timedelta(days=30)),
            "sections": Section.objects.select_related("category"),
        },
    )


@login_required
def kb_edit(request: HttpRequest, article_id: int | None = None) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id) if article_id else None
    if request.method == "POST":
        post = request.POST
        section = Section.objects.filter(pk=post.get("section") or 0).first()
        try:
            if article is None:
                picked = post.get("translation_of") or ""
                translation_of = (
                    Article.objects.filter(pk=int(picked)).first() if picked.isdigit() else None
                )
                if picked and translation_of is None:
                    raise ValidationFailed("Pick the article this one translates from the list.")
                article = services.create_article(
                    request.user,
                    title=post.get("title", ""),
                    body=post.get("body", ""),  # type: ignore[arg-type]
                    language=post.get("language", "en"),
                    visibility=post.get("visibility", Visibility.PUBLIC),
                    section=section,
                    translation_of=translation_of,
                )
            else:
                version = post.get("version")
                services.update_article(
                    request.user,
                    article,
                    title=post.get("title"),
                    body=post.get("body"),  # type: ignore[arg-type]
                    visibility=post.get("visibility"),
                    section=section,
                    expected_version=int(version) if version and version.isdigit() else None,
                )
            if post.get("status") and post["status"] != article.status:
                services.set_status(request.user, article, post["status"])  # type: ignore[arg-type]
            messages.success(request, "Article saved.")
            return redirect("kb-agent:edit", article_id=article.pk)
        except DomainError as exc:
            messages.error(request, exc.message)
    return _edit_page(request, article)


def _edit_page(request: HttpRequest, article: Article | None, status: int = 200) -> HttpResponse:
    versions = article.versions.all()[:30] if article else []
    diff = ""
    if article and request.GET.get("diff"):
        try:
            old, new = (int(x) for x in request.GET["diff"].split("-", 1))
            diff = services.diff_versions(article, old, new)
        except (ValueError, NotFound):
            diff = "Unknown versions."
    return render(
        request,
        "knowledge/agent_edit.html",
        {
            "article": article,
            "versions": versions,
            "diff": diff,
            "preview": render_markdown(article.body) if article else "",
            "files": article.files.all() if article else [],
            "related": article.related.order_by("title") if article else [],
            "max_upload_mb": settings.CAREDESK_MAX_ATTACHMENT_BYTES // (1024 * 1024),
            "accept": ",".join(sorted(services.ARTICLE_FILE_TYPES)),
            "sections": Section.objects.select_related("category"),
            # The articles a new one may translate (by title, never an id to type).
            "originals": Article.objects.order_by("title").only("pk", "title", "language")[:500]
            if article is None
            else [],
            "statuses": ArticleStatus.choices,
            "visibilities": Visibility.choices,
        },
        status=status,
    )


@login_required
@require_POST
def kb_file_upload(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    uploads = request.FILES.getlist("files")
    if not uploads:
        messages.error(request, "Choose a file to upload.")
        return _edit_page(request, article, status=400)
    try:
        for upload in uploads:
            name = upload.name or "file"
            check_attachment(name, upload.size or 0)  # before reading an oversize file in
            services.add_article_file(
                request.user,  # type: ignore[arg-type]
                article,
                filename=name,
                content=upload.read(),
            )
    except DomainError as exc:
        messages.error(request, exc.message)
        return _edit_page(request, article, status=exc.status)
    messages.success(request, "File added. Link it from the body with the Markdown shown.")
    return redirect("kb-agent:edit", article_id=article.pk)


@login_required
@require_POST
def kb_file_delete(request: HttpRequest, article_id: int, file_id: int) -> HttpResponse:
    item = get_object_or_404(ArticleFile, pk=file_id, article_id=article_id)
    services.remove_article_file(request.user, item)  # type: ignore[arg-type]
    messages.success(request, f"Removed {item.filename}.")
    return redirect("kb-agent:edit", article_id=article_id)


@login_required
@require_POST
def kb_related_add(request: HttpRequest, article_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    try:
        other = services.article_by_reference(request.POST.get("article", ""))
        services.add_related(request.user, article, other)  # type: ignore[arg-type]
    except DomainError as exc:
        messages.error(request, exc.message)
        return _edit_page(request, article, status=exc.status)
    messages.success(request, f"“{other.title}” is now related.")
    return redirect("kb-agent:edit", article_id=article.pk)


@login_required
@require_POST
def kb_related_remove(request: HttpRequest, article_id: int, other_id: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    services.remove_related(request.user, article, get_object_or_404(Article, pk=other_id))  # type: ignore[arg-type]
    return redirect("kb-agent:edit", article_id=article.pk)


@login_required
@require_POST
def kb_restore(request: HttpRequest, article_id: int, number: int) -> HttpResponse:
    article = get_object_or_404(Article, pk=article_id)
    try:
        services.restore_version(request.user, article, number)  # type: ignore[arg-type]
        messages.success(request, f"Restored version {number} as a new version.")
    except DomainError as exc:
        messages.error(request, exc.message)
    return redirect("kb-agent:edit", article_id=article.pk)


@login_required
def kb_suggest(request: HttpRequest, ticket_id: int) -> HttpResponse:
    """htmx partial for the ticket page: articles matching the customer's last message."""
    from caredesk.tickets.services import access_ticket

    try:
        ticket = access_ticket(request.user, ticket_id)  # type: ignore[arg-type]
    except NotFound as exc:
        raise Http404(exc.message) from exc
    articles = services.suggest_articles(ticket)
    for article in articles:
        # Replies are plain text: the article as read, not its Markdown source.
        article.insert_text = markdown_to_text(article.body)  # type: ignore[attr-defined]
    return render(
        request,
        "knowledge/_suggest.html",
        {
            "articles": articles,
            "ticket": ticket,
            "base_url": request.build_absolute_uri("/")[:-1],
        },
    )


@login_required
@require_POST
def kb_used(request: HttpRequest, article_id: int) -> HttpResponse:
    """An agent inserted this article into a reply: counted when the ticket is solved with it."""
    services.record_resolution(get_object_or_404(Article, pk=article_id))
    return HttpResponse(status=204)
