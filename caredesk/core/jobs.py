"""Durable jobs on top of Huey: at-least-once delivery with a lease, exactly-once effect per claim.

- `enqueue(name, payload)` stores a Job row and, after commit, asks Huey to run it.
- A worker runs a job only after claiming it with one atomic UPDATE (pending, or running with
  an expired lease), so two workers never run the same job at once.
- A worker killed mid-job leaves its lease to expire; `sweep()` (every minute, and at worker
  start) hands such jobs out again. Failures retry with exponential backoff up to max_attempts.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from caredesk.core.models import Job, JobAttempt

Handler = Callable[[dict[str, Any]], None]
HANDLERS: dict[str, Handler] = {}
LEASE_SECONDS = int(os.environ.get("CAREDESK_JOB_LEASE_SECONDS", "300"))


def job_handler(name: str) -> Callable[[Handler], Handler]:
    def register(func: Handler) -> Handler:
        HANDLERS[name] = func
        return func

    return register


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def enqueue(
    name: str,
    payload: dict[str, Any] | None = None,
    *,
    dedupe_key: str | None = None,
    delay_seconds: int = 0,
    max_attempts: int = 5,
) -> Job:
    if name not in HANDLERS:
        raise ValueError(f"No job handler is registered for {name!r}.")
    if dedupe_key:
        existing = Job.objects.filter(dedupe_key=dedupe_key).first()
        if existing is not None:
            return existing
    job = Job.objects.create(
        name=name,
        payload=payload or {},
        dedupe_key=dedupe_key,
        max_attempts=max_attempts,
        run_after=timezone.now() + timedelta(seconds=delay_seconds),
    )
    transaction.on_commit(lambda: _dispatch(job.pk, delay_seconds))
    return job


def _dispatch(job_id: int, delay: int = 0) -> None:
    from caredesk.core.tasks import run_job

    if delay > 0:
        run_job.schedule((job_id,), delay=delay)
    else:
        run_job(job_id)


def claim(job_id: int, worker: str) -> bool:
    now = timezone.now()
    claimable = Q(state=Job.State.PENDING) | Q(state=Job.State.RUNNING, lease_until__lt=now)
    updated = Job.objects.filter(claimable, pk=job_id, run_after__lte=now).update(
        state=Job.State.RUNNING,
        lease_until=now + timedelta(seconds=LEASE_SECONDS),
        locked_by=worker,
    )
    return updated == 1


def run(job_id: int) -> str:
    """Claim and run one job; returns what happened (done/retry/failed/skipped)."""
    worker = worker_id()
    if not claim(job_id, worker):
        return "skipped"
    job = Job.objects.get(pk=job_id)
    Job.objects.filter(pk=job_id).update(attempts=job.attempts + 1)
    attempt = JobAttempt.objects.create(job=job, worker=worker)
    handler = HANDLERS.get(job.name)
    try:
        if handler is None:
            raise LookupError(f"No job handler is registered for {job.name!r}.")
        # Handlers learn which try this is, so the last one can record a final failure.
        handler(
            {
                **job.payload,
                "_attempt": job.attempts + 1,
                "_final": job.attempts + 1 >= job.max_attempts,
            }
        )
    except Exception as exc:
        attempts = job.attempts + 1
        final = attempts >= job.max_attempts
        delay = min(2**attempts * 5, 3600)
        Job.objects.filter(pk=job_id, locked_by=worker).update(
            state=Job.State.FAILED if final else Job.State.PENDING,
            last_error=f"{type(exc).__name__}: {exc}"[:5000],
            run_after=timezone.now() + timedelta(seconds=delay),
            lease_until=None,
            finished_at=timezone.now() if final else None,
        )
        JobAttempt.objects.filter(pk=attempt.pk).update(finished_at=timezone.now(), outcome="error")
        if not final:
            _dispatch(job_id, delay)
        return "failed" if final else "retry"
    Job.objects.filter(pk=job_id, locked_by=worker).update(
        state=Job.State.DONE, finished_at=timezone.now(), lease_until=None, last_error=""
    )
    JobAttempt.objects.filter(pk=attempt.pk).update(finished_at=timezone.now(), outcome="done")
    return "done"


def load_tasks() -> None:
    """Import every app's `tasks` module, and with them the job handlers. A consumer must call
    this before it starts: a queued message for a task Huey has not registered yet is logged as
    "not found in TaskRegistry" and dropped (the job then waited for the next sweep)."""
    from django.utils.module_loading import autodiscover_modules

    autodiscover_modules("tasks")


def sweep() -> int:
    """Hand out again jobs that are due but not running (lost messages, dead workers)."""
    now = timezone.now()
    due = Job.objects.filter(
        Q(state=Job.State.PENDING, run_after__lte=now)
        | Q(state=Job.State.RUNNING, lease_until__lt=now)
    ).values_list("pk", flat=True)[:1000]
    ids = list(due)
    for job_id in ids:
        _dispatch(job_id)
    return len(ids)


@job_handler("system.probe")
def probe(payload: dict[str, Any]) -> None:
    """A job that only waits: checks that workers run jobs (`caredesk jobs probe`)."""
    time.sleep(min(float(payload.get("seconds", 0)), 60))
