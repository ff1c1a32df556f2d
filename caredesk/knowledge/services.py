"""Knowledge-base logic: versions on every edit, the draft → review → published workflow, restore,
diffs, translations with language fallback, feedback and views, suggestions, the ABCD import."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Max, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.text import slugify

from caredesk.accounts.models import User
from caredesk.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from caredesk.knowledge.models import (
    Article,
    ArticleFile,
    ArticleStatus,
    ArticleVersion,
    Category,
    SearchLog,
    Section,
    Visibility,
)

TRANSITIONS = {
    ArticleStatus.DRAFT: {ArticleStatus.REVIEW, ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED},
    ArticleStatus.REVIEW: {ArticleStatus.DRAFT, ArticleStatus.PUBLISHED, ArticleStatus.ARCHIVED},
    ArticleStatus.PUBLISHED: {ArticleStatus.DRAFT, ArticleStatus.ARCHIVED},
    ArticleStatus.ARCHIVED: {ArticleStatus.DRAFT},
}


def _unique_slug(title: str, language: str, exclude: int = 0) -> str:
    base = slugify(title)[:140] or "article"
    slug, n = base, 2
    while Article.objects.filter(slug=slug, language=language).exclude(pk=exclude).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


def _check(title: str, body: str, visibility: str, language: str) -> None:
    if not title.strip() or len(title) > 200:
        raise ValidationFailed("title must be 1 to 200 characters.", code="bad_title")
    if len(body) > 500_000:
        raise ValidationFailed("body is at most 500,000 characters.", code="bad_body")
    if visibility not in Visibility.values:
        raise ValidationFailed("visibility must be public or internal.", code="bad_visibility")
    if not re.fullmatch(r"[a-z]{2}(-[A-Za-z]{2})?", language or ""):
        raise ValidationFailed("language is a code such as en or pt-BR.", code="bad_language")


@transaction.atomic
def create_article(
    author: User | None,
    *,
    title: str,
    body: str,
    language: str = "en",
    visibility: str = Visibility.PUBLIC,
    section: Section | None = None,
    status: str = ArticleStatus.DRAFT,
    slug: str = "",
    translation_of: Article | None = None,
) -> Article:
    _check(title, body, visibility, language)
    if status not in ArticleStatus.values:
        raise ValidationFailed("Unknown status.", code="bad_status")
    group = (
        translation_of.group
        if translation_of
        else (Article.objects.aggregate(m=Max("group"))["m"] or 0) + 1
    )
    if translation_of and Article.objects.filter(group=group, language=language).exists():
        raise Conflict(f"This article already has a {language} version.", code="translation_exists")
    try:
        article = Article.objects.create(
            group=group,
            language=language,
            slug=slugify(slug)[:160] if slug else _unique_slug(title, language),
            title=title.strip(),
            body=body,
            section=section or (translation_of.section if translation_of else None),
            visibility=visibility,
            status=status,
            author=author,
            published_at=timezone.now() if status == ArticleStatus.PUBLISHED else None,
        )
    except IntegrityError as exc:
        raise Conflict(
            "An article with that slug exists in this language.", code="slug_taken"
        ) from exc
    ArticleVersion.objects.create(
        article=article, number=1, title=article.title, body=body, author=author
    )
    return article


@transaction.atomic
def update_article(
    author: User | None,
    article: Article,
    *,
    title: str | None = None,
    body: str | None = None,
    visibility: str | None = None,
    section: Section | None = None,
    expected_version: int | None = None,
) -> Article:
    article = Article.objects.select_for_update().get(pk=article.pk)
    if expected_version is not None and expected_version != article.version:
        raise Conflict(
            "Someone else changed this article; reload to see their version.", code="stale_version"
        )
    new_title = title.strip() if title is not None else article.title
    new_body = body if body is not None else article.body
    _check(new_title, new_body, visibility or article.visibility, article.language)
    changed = new_title != article.title or new_body != article.body
    article.title, article.body = new_title, new_body
    if visibility:
        article.visibility = visibility
    if section is not None:
        article.section = section
    if changed:
        article.version += 1
        ArticleVersion.objects.create(
            article=article, number=article.version, title=new_title, body=new_body, author=author
        )
    article.save()
    return article


@transaction.atomic
def set_status(actor: User | None, article: Article, status: str) -> Article:
    if (
        status not in ArticleStatus.values
        or status not in TRANSITIONS[ArticleStatus(article.status)]
    ):
        raise ValidationFailed(
            f"A {article.status} article cannot become {status}.", code="bad_transition"
        )
    if (
        status == ArticleStatus.PUBLISHED
        and actor is not None
        and not actor.is_lead
        and article.visibility == Visibility.PUBLIC
    ):
        raise PermissionDenied(
            "Only team leads and admins publish to the help centre; send it for review."
        )
    article.status = status
    if status == ArticleStatus.PUBLISHED:
        article.published_at = timezone.now()
    article.save(update_fields=["status", "published_at", "updated_at"])
    return article


def restore_version(author: User | None, article: Article, number: int) -> Article:
    version = article.versions.filter(number=number).first()
    if version is None:
        raise NotFound(f"Version {number} does not exist.")
    return update_article(author, article, title=version.title, body=version.body)


def diff_versions(article: Article, old: int, new: int) -> str:
    versions = {v.number: v for v in article.versions.filter(number__in=[old, new])}
    if old not in versions or new not in versions:
        raise NotFound("Unknown version.")
    before = [f"# {versions[old].title}", *versions[old].body.splitlines()]
    after = [f"# {versions[new].title}", *versions[new].body.splitlines()]
    return "\n".join(
        difflib.unified_diff(before, after, f"version {old}", f"version {new}", lineterm="")
    )


# --- files and images ------------------------------------------------------------------------

# Articles are public pages, so their files are an allow-list (what a help article needs), on top
# of the ticket attachment size limit and block-list. No SVG or HTML: both can carry script.
ARTICLE_FILE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".csv": "text/csv",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".odt": "application/vnd.oasis.opendocument.text",
    ".zip": "application/zip",
}
# The first bytes each binary type must start with: a renamed file is refused, and the type we
# serve is the one we checked, never the one the browser sent.
_SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "application/pdf": (b"%PDF-",),
    "application/zip": (b"PK\x03\x04",),
}
_SIGNATURES.update(
    {ARTICLE_FILE_TYPES[ext]: (b"PK\x03\x04",) for ext in (".docx", ".xlsx", ".pptx", ".odt")}
)
MAX_ARTICLE_FILES = 100


def _article_filename(filename: str) -> str:
    # The name becomes part of a URL written into Markdown: keep it to characters that need no
    # escaping there.
    base = os.path.basename((filename or "").replace("\\", "/")).strip()
    stem, ext = os.path.splitext(base)
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:100] or "file"
    return f"{stem}{ext.lower()}"


def check_article_file(filename: str, content: bytes) -> str:
    """The content type an article file will be served as, or a clear refusal."""
    from caredesk.tickets.services import check_attachment

    check_attachment(filename, len(content))
    extension = os.path.splitext(filename)[1].lower()
    content_type = ARTICLE_FILE_TYPES.get(extension)
    if content_type is None:
        allowed = ", ".join(sorted(ARTICLE_FILE_TYPES))
        raise ValidationFailed(
            f"Files of type {extension or '(no extension)'} cannot be added to articles "
            f"(allowed: {allowed}).",
            code="attachment_type",
        )
    if not content:
        raise ValidationFailed(f"{filename} is empty.", code="attachment_empty")
    signatures = _SIGNATURES.get(content_type)
    webp = content_type == "image/webp" and content[:4] == b"RIFF" and content[8:12] == b"WEBP"
    if (signatures and not content.startswith(signatures)) or (
        content_type == "image/webp" and not webp
    ):
        raise ValidationFailed(
            f"{filename} does not look like a {extension} file.", code="attachment_content"
        )
    return content_type


@transaction.atomic
def add_article_file(
    actor: User | None, article: Article, *, filename: str, content: bytes
) -> ArticleFile:
    name = _article_filename(filename)
    content_type = check_article_file(name, content)
    if ArticleFile.objects.filter(article=article).count() >= MAX_ARTICLE_FILES:
        raise ValidationFailed(
            f"An article holds at most {MAX_ARTICLE_FILES} files.", code="too_many_files"
        )
    digest = hashlib.sha256(content).hexdigest()
    item = ArticleFile(
        article=article,
        filename=name,
        content_type=content_type,
        size=len(content),
        sha256=digest,
        uploaded_by=actor,
    )
    item.file.save(f"{digest[:16]}-{name}", ContentFile(content), save=False)
    item.save()
    return item


def remove_article_file(actor: User | None, item: ArticleFile) -> None:
    stored = item.file.name
    storage = item.file.storage
    item.delete()
    # The bytes go only once the row is gone for good: a rolled-back delete keeps its file.
    transaction.on_commit(lambda: storage.delete(stored) if stored else None)


def can_read_article_file(user: Any, item: ArticleFile) -> bool:
    """Anyone may read a public published article's files; agents read every article's."""
    article = item.article
    if article.status == ArticleStatus.PUBLISHED and article.visibility == Visibility.PUBLIC:
        return True
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_active", False))


# --- related articles --------------------------------------------------------------------------

MAX_RELATED = 10


def article_by_reference(reference: str) -> Article:
    """An article named by id, slug or help-centre URL, as an editor types it."""
    ref = (reference or "").strip().rstrip("/")
    ref = ref.rsplit("/", 1)[-1]
    article = (
        Article.objects.filter(pk=int(ref)).first()
        # isdigit() alone also accepts "²", which int() refuses; ids beyond 64 bits exist nowhere.
        if ref.isascii() and ref.isdigit() and len(ref) < 19
        else Article.objects.filter(slug=ref).order_by("id").first()
        if ref
        else None
    )
    if article is None:
        raise NotFound(f"No article {reference.strip()[:80]!r}.", code="no_article")
    return article


@transaction.atomic
def add_related(actor: User | None, article: Article, other: Article) -> None:
    if other.pk == article.pk:
        raise ValidationFailed("An article cannot be related to itself.", code="related_self")
    if other.group == article.group:
        raise ValidationFailed(
            "That is a translation of this article; readers reach it through the language links.",
            code="related_translation",
        )
    if article.related.filter(pk=other.pk).exists():
        return
    if article.related.count() >= MAX_RELATED or other.related.count() >= MAX_RELATED:
        raise ValidationFailed(
            f"An article has at most {MAX_RELATED} related articles.", code="too_many_related"
        )
    article.related.add(other)  # symmetrical: `other` lists this article too


@transaction.atomic
def remove_related(actor: User | None, article: Article, other: Article) -> None:
    article.related.remove(other)


def published(*, public_only: bool) -> QuerySet[Article]:
    qs = Article.objects.filter(status=ArticleStatus.PUBLISHED)
    return qs.filter(visibility=Visibility.PUBLIC) if public_only else qs


def public_categories() -> list[Category]:
    """The help centre's category navigation."""
    return list(Category.objects.filter(internal=False))


def category_sections(category: Category) -> list[tuple[Section, list[Article]]]:
    """A category's sections, each with its published public articles (two queries)."""
    sections = list(category.sections.all())
    by_section: dict[int, list[Article]] = {s.pk: [] for s in sections}
    for article in published(public_only=True).filter(section__in=sections).order_by("title"):
        by_section[article.section_id].append(article)  # type: ignore[index]
    return [(s, by_section[s.pk]) for s in sections]


def related_articles(article: Article, limit: int = 5) -> list[Article]:
    """The articles an editor linked to this one, else others of its section, public ones only."""
    linked = list(
        published(public_only=True).filter(related=article).exclude(pk=article.pk)[:limit]
    )
    if linked or article.section_id is None:
        return linked
    return list(
        published(public_only=True)
        .filter(section_id=article.section_id, language=article.language)
        .exclude(pk=article.pk)
        .order_by("-views", "title")[:limit]
    )


def article_for_language(slug: str, language: str, *, public_only: bool = True) -> Article:
    """The article in the reader's language, falling back to English, then any language."""
    base = published(public_only=public_only).select_related("section__category")
    article = base.filter(slug=slug).first()
    if article is None:
        raise NotFound("No such article.")
    preferred = [language, language.split("-")[0], "en"] if language else ["en"]
    for code in preferred:
        translated = base.filter(group=article.group, language=code).first()
        if translated is not None:
            return translated
    return article


def record_view(article: Article) -> None:
    Article.objects.filter(pk=article.pk).update(views=F("views") + 1)


def record_feedback(article: Article, helpful: bool) -> None:
    field = "helpful_yes" if helpful else "helpful_no"
    Article.objects.filter(pk=article.pk).update(**{field: F(field) + 1})


def log_search(query: str, results: int, session_key: str) -> SearchLog:
    return SearchLog.objects.create(
        query=query[:200], results=results, session_key=session_key[:64]
    )


# A request submitted this long after a search still counts against it: the visitor searched,
# did not find the answer, and wrote in.
DEFLECTION_WINDOW = timedelta(hours=24)


def mark_deflection(
    session_key: str, *, opened_article: Article | None = None, created_ticket: bool = False
) -> None:
    """Link a visitor's searches to what they did next. An opened article goes on the latest
    search; a submitted request marks every search of the session within DEFLECTION_WINDOW, so a
    visitor who searched three times and then wrote in is one search session that was not
    deflected (not two deflected searches and one that failed)."""
    if not session_key:
        return
    session = SearchLog.objects.filter(session_key=session_key)
    if opened_article is not None:
        latest = session.order_by("-id").values_list("pk", flat=True).first()
        if latest is not None:
            SearchLog.objects.filter(pk=latest).update(opened_article=opened_article)
    if created_ticket:
        session.filter(
            created_at__gte=timezone.now() - DEFLECTION_WINDOW, created_ticket=False
        ).update(created_ticket=True)


def move_search_session(old_key: str, new_key: str) -> None:
    """Signing in gives the visitor a new session key; their searches follow them."""
    if old_key and new_key and old_key != new_key:
        SearchLog.objects.filter(session_key=old_key).update(session_key=new_key[:64])


@dataclass
class DeflectionReport:
    """Help-centre search sessions (one visitor's searches on one day) over a period."""

    search_sessions: int
    opened_article: int
    led_to_request: int

    @property
    def deflected(self) -> int:
        return self.search_sessions - self.led_to_request

    @property
    def rate(self) -> float | None:
        """Share of search sessions that did not end in a request (None without searches)."""
        return self.deflected / self.search_sessions if self.search_sessions else None


def deflection_report(*, since: datetime, until: datetime | None = None) -> DeflectionReport:
    searches = SearchLog.objects.filter(created_at__gte=since).exclude(session_key="")
    if until is not None:
        searches = searches.filter(created_at__lt=until)
    sessions = (
        searches.annotate(day=TruncDate("created_at"))
        .values("session_key", "day")
        .annotate(
            requests=Count("id", filter=Q(created_ticket=True)),
            articles=Count("opened_article"),
        )
    )
    total = opened = requested = 0
    for row in sessions:
        total += 1
        opened += 1 if row["articles"] else 0
        requested += 1 if row["requests"] else 0
    return DeflectionReport(total, opened, requested)


def suggest_articles(ticket: Any, limit: int = 5) -> list[Article]:
    """Published articles that match the customer's last message (for the ticket page)."""
    from caredesk.tickets.models import Message

    last = (
        Message.objects.filter(ticket=ticket, author_kind="customer")
        .order_by("-id")
        .values_list("body_text", flat=True)
        .first()
        or ticket.subject
    )
    return articles_matching(f"{ticket.subject} {last}", limit=limit, public_only=False)


SUGGEST_STOPWORDS = {
    "the",
    "and",
    "for",
    "you",
    "your",
    "my",
    "i",
    "a",
    "to",
    "is",
    "it",
    "of",
    "in",
    "on",
    "me",
    "can",
    "please",
    "hello",
    "hi",
    "thanks",
    "with",
    "was",
    "have",
    "this",
    "that",
    "not",
    "but",
    "are",
    "be",
    "do",
}


def articles_matching(text: str, *, limit: int = 5, public_only: bool) -> list[Article]:
    """Published articles for a piece of free text: its first three meaningful words together,
    then each word alone, best first. The ticket page's suggestions and the help centre's
    while-you-type deflection both use it (customers get public articles only)."""
    from caredesk.search.services import full_text, tokens

    words = [w for w in tokens(text) if w not in SUGGEST_STOPWORDS and len(w) > 2][:8]
    seen: list[int] = []
    for group in [words[:3], *[[w] for w in words]]:
        if not group or len(seen) >= limit:
            continue
        for match in full_text(group, ["article"], public_only=public_only, limit=limit):
            if match.object_id not in seen:
                seen.append(match.object_id)
    articles = {a.pk: a for a in published(public_only=public_only).filter(pk__in=seen)}
    return [articles[pk] for pk in seen if pk in articles][:limit]


def record_resolution(article: Article) -> None:
    Article.objects.filter(pk=article.pk).update(resolved_tickets=F("resolved_tickets") + 1)


# --- demo content ---------------------------------------------------------------------------


def import_abcd_guidelines(path: Path) -> int:
    """The ABCD agent guidelines as the internal 'Policies and procedures' KB, one article per
    subflow, titled by the subflow (e.g. "Recover Password")."""
    data = json.loads(Path(path).read_text())
    category, _ = Category.objects.get_or_create(
        slug="policies", defaults={"name": "Policies and procedures", "internal": True}
    )
    count = 0
    for flow, flow_data in data.items():
        section, _ = Section.objects.get_or_create(category=category, name=flow)
        for subflow, details in flow_data.get("subflows", {}).items():
            lines = [f"*{flow}: {flow_data.get('description', '')}*", ""]
            for index, action in enumerate(details.get("actions", []), 1):
                button = action.get("button", "")
                lines.append(
                    f"{index}. **{button}** — {action.get('text', '').replace('[', '').replace(']', '')}"
                    if button
                    else f"{index}. {action.get('text', '')}"
                )
                lines += [f"    - {sub}" for sub in action.get("subtext", [])]
            body = "\n".join(lines)
            if Article.objects.filter(
                title=subflow, language="en", visibility=Visibility.INTERNAL
            ).exists():
                continue
            create_article(
                None,
                title=subflow,
                body=body,
                visibility=Visibility.INTERNAL,
                section=section,
                status=ArticleStatus.PUBLISHED,
            )
            count += 1
    return count


DEMO_FAQ = Path(__file__).resolve().parent / "demo_faq"


def load_demo_faq() -> int:
    category, _ = Category.objects.get_or_create(
        slug="faq", defaults={"name": "Frequently asked questions"}
    )
    section, _ = Section.objects.get_or_create(
        category=category, name="Orders, returns and your account"
    )
    count = 0
    for file in sorted(DEMO_FAQ.glob("*.md")):
        title, _, body = file.read_text().partition("\n")
        title = title.lstrip("# ").strip()
        if Article.objects.filter(slug=file.stem, language="en").exists():
            continue
        create_article(
            None,
            title=title,
            body=body.strip(),
            section=section,
            status=ArticleStatus.PUBLISHED,
            slug=file.stem,
        )
        count += 1
    return count


def load_demo_knowledge() -> None:
    from caredesk.operations.demo import abcd_dir

    folder = abcd_dir()
    if folder is not None:
        import_abcd_guidelines(folder / "guidelines.json")
    load_demo_faq()
