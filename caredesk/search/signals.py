"""Index sync: tickets re-indexed after each committed change (subject, messages), customers and
articles on save, everything removed on delete."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from caredesk.core.events import ticket_changed
from caredesk.customers.models import Customer, Identity
from caredesk.search import services

INDEXED_KINDS = {
    "created",
    "message_added",
    "note_added",
    "field_changed",
    "merged",
    "merged_in",
    "split",
}


@receiver(ticket_changed, dispatch_uid="search-ticket-index")
def on_ticket_changed(sender: Any, ticket_id: int, kinds: list[str], **kwargs: Any) -> None:
    if INDEXED_KINDS & set(kinds):
        services.index_ticket(ticket_id)


@receiver(post_save, sender=Customer, dispatch_uid="search-customer-index")
def on_customer_saved(sender: Any, instance: Customer, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        transaction.on_commit(lambda: services.index_customer(instance))


@receiver(post_save, sender=Identity, dispatch_uid="search-identity-index")
def on_identity_saved(sender: Any, instance: Identity, raw: bool = False, **kwargs: Any) -> None:
    if not raw:
        customer = instance.customer
        transaction.on_commit(lambda: services.index_customer(customer))


@receiver(post_delete, sender=Customer, dispatch_uid="search-customer-unindex")
def on_customer_deleted(sender: Any, instance: Customer, **kwargs: Any) -> None:
    services.remove_document("customer", instance.pk)


def connect_articles() -> None:
    from caredesk.knowledge.models import Article

    def saved(sender: Any, instance: Article, raw: bool = False, **kwargs: Any) -> None:
        if not raw:
            transaction.on_commit(lambda: services.index_article(instance))

    def deleted(sender: Any, instance: Article, **kwargs: Any) -> None:
        services.remove_document("article", instance.pk)

    post_save.connect(saved, sender=Article, dispatch_uid="search-article-index", weak=False)
    post_delete.connect(deleted, sender=Article, dispatch_uid="search-article-unindex", weak=False)
