"""The search index: one row per searchable thing, mirrored into SQLite FTS5 or a PostgreSQL
tsvector (created by this app's migration for the database in use)."""

from django.db import models


class SearchDocument(models.Model):
    kind = models.CharField(max_length=10)  # article | ticket | customer
    object_id = models.PositiveBigIntegerField()
    title = models.CharField(max_length=300)
    body = models.TextField(blank=True)
    language = models.CharField(max_length=10, blank=True)
    public = models.BooleanField(
        default=False, help_text="Visible to customers (public published articles)"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "object_id"], name="search_document_unique")
        ]
        indexes = [models.Index(fields=["kind", "public"], name="search_kind_public")]

    def __str__(self) -> str:
        return f"{self.kind}:{self.object_id}"
