"""Index sync for customers and articles: indexed on save (after commit), removed on delete.

Ticket documents are written by the ticket services themselves, in the transaction that changes
the ticket (see `services.add_ticket` / `append_to_ticket`), so there is no receiver for them here.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from caredesk.customers.models import Customer, Identity
from caredesk.search import services


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
