"""Move an installation's data from one database to another (e.g. embedded SQLite to PostgreSQL).

Rows are copied model by model in dependency order with their primary keys, then sequences are
reset and every table is verified by row count and a checksum of its rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import dj_database_url
from django.apps import apps
from django.core.management import call_command
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connections, models, transaction
from django.db.models import Model

from caredesk.core.errors import ValidationFailed

SOURCE, TARGET = "migrate_source", "migrate_target"
BATCH = 2000


def _configure(alias: str, url: str) -> None:
    if not url:
        raise ValidationFailed(f"A database URL is required for {alias}.")
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:
        raise ValidationFailed(f"Cannot understand the database URL {url!r}: {exc}") from exc
    config.setdefault("OPTIONS", {})
    config.setdefault("TIME_ZONE", None)
    config.setdefault("CONN_MAX_AGE", 0)
    config.setdefault("CONN_HEALTH_CHECKS", False)
    config.setdefault("AUTOCOMMIT", True)
    config.setdefault("ATOMIC_REQUESTS", False)
    config.setdefault("TEST", {})
    connections.databases[alias] = config


def _ordered_models() -> list[type[Model]]:
    """Concrete, managed models ordered so that every FK target comes before its referrers."""
    candidates = [
        m
        for m in apps.get_models(include_auto_created=True)
        if m._meta.managed and not m._meta.proxy
    ]
    ordered: list[type[Model]] = []
    seen: set[type[Model]] = set()

    def visit(model: type[Model], stack: tuple[type[Model], ...] = ()) -> None:
        if model in seen or model in stack:
            return
        for field in model._meta.concrete_fields:
            if isinstance(field, models.ForeignKey):
                target = field.remote_field.model
                if target is not model and target in candidates:
                    visit(target, (*stack, model))
        seen.add(model)
        ordered.append(model)

    for model in candidates:
        visit(model)
    return ordered


def _row_digest(model: type[Model], alias: str) -> tuple[int, str]:
    digest = hashlib.sha256()
    count = 0
    columns = [f.attname for f in model._meta.concrete_fields]
    for row in (
        model._default_manager.using(alias)
        .order_by("pk")
        .values_list(*columns)
        .iterator(chunk_size=BATCH)
    ):
        digest.update(
            json.dumps([_normal(v) for v in row], cls=DjangoJSONEncoder, sort_keys=True).encode()
        )
        count += 1
    return count, digest.hexdigest()


def _normal(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value).hex()
    if isinstance(value, bytes):
        return value.hex()
    return value


@contextmanager
def _keep_timestamps(model_list: list[type[Model]]) -> Iterator[None]:
    """bulk_create would stamp auto_now/auto_now_add fields with the current time: keep the originals."""
    changed = []
    for model in model_list:
        for field in model._meta.concrete_fields:
            if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
                changed.append((field, field.auto_now, field.auto_now_add))  # type: ignore[attr-defined]
                field.auto_now = field.auto_now_add = False  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in changed:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add  # type: ignore[attr-defined]


def migrate_data(
    source_url: str, target_url: str, *, progress: Callable[[str], None] = print
) -> dict[str, int]:
    """Copy everything from source to target (which must be empty); verify; return row counts."""
    _configure(SOURCE, source_url)
    _configure(TARGET, target_url)
    progress("Migrating the target database schema...")
    call_command("migrate", database=SOURCE, verbosity=0, interactive=False)
    call_command("migrate", database=TARGET, verbosity=0, interactive=False)
    ordered = _ordered_models()
    skip = {"contenttypes.contenttype", "auth.permission"}
    for model in ordered:
        label = model._meta.label_lower
        if label in skip:
            continue
        if model._default_manager.using(TARGET).exists():
            raise ValidationFailed(
                f"The target database is not empty ({label} has rows); use a fresh database."
            )
    counts: dict[str, int] = {}
    with transaction.atomic(using=TARGET), _keep_timestamps(ordered):
        # migrate created content types and permissions with its own ids: take the source's instead.
        from django.contrib.auth.models import Permission
        from django.contrib.contenttypes.models import ContentType

        Permission.objects.using(TARGET).all().delete()
        ContentType.objects.using(TARGET).all().delete()
        for model in ordered:
            label = model._meta.label_lower
            manager = model._default_manager
            batch: list[Model] = []
            total = 0
            for obj in manager.using(SOURCE).order_by("pk").iterator(chunk_size=BATCH):
                batch.append(obj)
                if len(batch) >= BATCH:
                    manager.using(TARGET).bulk_create(batch)
                    total += len(batch)
                    batch = []
            if batch:
                manager.using(TARGET).bulk_create(batch)
                total += len(batch)
            counts[label] = total
            if total:
                progress(f"  {label}: {total}")
    _reset_sequences(ordered)
    progress("Verifying row counts and checksums...")
    for model in ordered:
        label = model._meta.label_lower
        if _row_digest(model, SOURCE) != _row_digest(model, TARGET):
            raise ValidationFailed(
                f"Verification failed for {label}: the copy differs from the source."
            )
    return counts


def _reset_sequences(ordered: list[type[Model]]) -> None:
    connection = connections[TARGET]
    if connection.vendor != "postgresql":
        return
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for sql in connection.ops.sequence_reset_sql(no_style(), ordered):
            cursor.execute(sql)
