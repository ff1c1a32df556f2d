"""Knowledge base: articles in Markdown with versions, translations, visibility, workflow, feedback."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Category(models.Model):
    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=100, unique=True)
    position = models.PositiveSmallIntegerField(default=0)
    internal = models.BooleanField(default=False, help_text="Only agents see it")

    class Meta:
        ordering = ["position", "name"]
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.name


class Section(models.Model):
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="sections")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class ArticleStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    REVIEW = "review", "In review"
    PUBLISHED = "published", "Published"
    ARCHIVED = "archived", "Archived"


class Visibility(models.TextChoices):
    PUBLIC = "public", "Public (help centre)"
    INTERNAL = "internal", "Internal (agents only)"


class Article(models.Model):
    """One language version of an article; translations share a `group` id and differ in language."""

    group = models.PositiveIntegerField(
        db_index=True, default=0, help_text="Same for all translations"
    )
    language = models.CharField(max_length=10, default="en")
    slug = models.SlugField(max_length=160)
    title = models.CharField(max_length=200)
    body = models.TextField(help_text="Markdown")
    section = models.ForeignKey(
        Section, null=True, blank=True, on_delete=models.SET_NULL, related_name="articles"
    )
    visibility = models.CharField(
        max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC
    )
    status = models.CharField(
        max_length=10, choices=ArticleStatus.choices, default=ArticleStatus.DRAFT
    )
    related = models.ManyToManyField("self", blank=True, symmetrical=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    views = models.PositiveIntegerField(default=0)
    helpful_yes = models.PositiveIntegerField(default=0)
    helpful_no = models.PositiveIntegerField(default=0)
    resolved_tickets = models.PositiveIntegerField(
        default=0, help_text="Tickets solved after it was sent"
    )
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["title"]
        constraints = [
            models.UniqueConstraint(fields=["slug", "language"], name="article_slug_language"),
            models.UniqueConstraint(fields=["group", "language"], name="article_group_language"),
        ]

    def __str__(self) -> str:
        return self.title


class ArticleVersion(models.Model):
    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=200)
    body = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["article", "number"], name="article_version_number")
        ]

    def __str__(self) -> str:
        return f"{self.article} v{self.number}"


class SearchLog(models.Model):
    """Help-centre searches, for deflection: searched, and did or did not open a ticket."""

    query = models.CharField(max_length=200)
    results = models.PositiveIntegerField(default=0)
    session_key = models.CharField(max_length=64, blank=True, db_index=True)
    opened_article = models.ForeignKey(Article, null=True, blank=True, on_delete=models.SET_NULL)
    created_ticket = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.query


class ArticleFile(models.Model):
    """A file or image uploaded for an article; the Markdown links to it by its /help/files/ URL.
    Readers see it when they may see the article (public + published, or any agent)."""

    article = models.ForeignKey(Article, on_delete=models.CASCADE, related_name="files")
    file = models.FileField(upload_to="kb/%Y/%m/")
    filename = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.filename

    @property
    def url(self) -> str:
        return f"/help/files/{self.pk}/{self.filename}"

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")
