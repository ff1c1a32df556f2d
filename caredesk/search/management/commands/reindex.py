"""`caredesk reindex`: rebuild the search index from the database (after a restore, say)."""

from django.core.management.base import BaseCommand

from caredesk.search.services import reindex_all


class Command(BaseCommand):
    help = "Rebuild the full-text search index."

    def handle(self, *args, **options):  # type: ignore[no-untyped-def]
        self.stdout.write(f"Indexed {reindex_all()} documents")
