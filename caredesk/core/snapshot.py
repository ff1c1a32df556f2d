"""Per-process snapshots of small tables that every workspace page reads and that rarely change
(the team list, the custom field definitions).

Building and running such a query costs a page about as much as a ticket query does, for rows that
change a few times a year. Each process keeps the rows for a few seconds: a save or delete of one
of the models drops the snapshot in this process at once (and again when the transaction commits,
so a copy read by another thread before the commit does not survive it); another process sees the
change within `seconds`. Only for data whose brief staleness is harmless (names and choices on a
form, never a permission).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, ClassVar, Generic, TypeVar

from django.db import models, transaction
from django.db.models.signals import post_delete, post_save

T = TypeVar("T")


class ProcessSnapshot(Generic[T]):
    """`TEAMS = ProcessSnapshot(lambda: list(Team.objects.values_list("pk", "name")), models=[Team])`;
    `TEAMS.get()` returns the rows, read again when older than `seconds` or after a save."""

    _every: ClassVar[list[ProcessSnapshot[Any]]] = []

    def __init__(
        self, load: Callable[[], T], *, models: list[type[models.Model]], seconds: float = 30.0
    ) -> None:
        self._load = load
        self._seconds = seconds
        self._value: tuple[float, T] | None = None
        for model in models:
            uid = f"snapshot-{id(self)}-{model._meta.label}"
            post_save.connect(self._changed, sender=model, dispatch_uid=f"{uid}-saved", weak=False)
            post_delete.connect(
                self._changed, sender=model, dispatch_uid=f"{uid}-deleted", weak=False
            )
        ProcessSnapshot._every.append(self)

    def get(self) -> T:
        value = self._value
        now = time.monotonic()
        if value is None or now - value[0] > self._seconds:
            value = self._value = (now, self._load())
        return value[1]

    def clear(self) -> None:
        self._value = None

    def _changed(self, *_: Any, **kwargs: Any) -> None:
        self.clear()
        transaction.on_commit(self.clear, using=kwargs.get("using"))

    @classmethod
    def clear_all(cls) -> None:
        """Drop every snapshot (tests: a rolled-back transaction sends no signal)."""
        for snapshot in cls._every:
            snapshot.clear()
