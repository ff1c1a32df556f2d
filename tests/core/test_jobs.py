"""Durable jobs: one claim at a time, retries with backoff, expired leases handed out again."""

from datetime import timedelta

import pytest
from django.utils import timezone

from caredesk.core import jobs
from caredesk.core.models import Job

pytestmark = pytest.mark.django_db

CALLS = []


@jobs.job_handler("test.record")
def record(payload):
    CALLS.append(payload["n"])
    if payload.get("fail"):
        raise RuntimeError("provider said no")


@pytest.fixture(autouse=True)
def clear_calls():
    CALLS.clear()


def test_enqueued_job_runs_after_commit(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        job = jobs.enqueue("test.record", {"n": 1})
    job.refresh_from_db()
    assert job.state == Job.State.DONE and job.attempts == 1 and CALLS == [1]
    assert list(job.runs.values_list("outcome", flat=True)) == ["done"]


def test_a_claimed_job_cannot_be_claimed_again_until_its_lease_expires():
    job = Job.objects.create(name="test.record", payload={"n": 2}, run_after=timezone.now())
    assert jobs.claim(job.pk, "w1")
    assert not jobs.claim(job.pk, "w2")
    assert jobs.run(job.pk) == "skipped" and CALLS == []
    Job.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert jobs.claim(job.pk, "w2")


def test_failures_retry_with_backoff_then_fail_for_good():
    job = Job.objects.create(
        name="test.record", payload={"n": 3, "fail": True}, run_after=timezone.now(), max_attempts=2
    )
    assert jobs.run(job.pk) == "retry"
    job.refresh_from_db()
    assert (
        job.state == Job.State.PENDING
        and job.run_after > timezone.now()
        and "provider said no" in job.last_error
    )
    Job.objects.filter(pk=job.pk).update(run_after=timezone.now())
    assert jobs.run(job.pk) == "failed"
    job.refresh_from_db()
    assert job.state == Job.State.FAILED and job.attempts == 2


def test_sweep_redispatches_jobs_of_dead_workers(django_capture_on_commit_callbacks):
    job = Job.objects.create(
        name="test.record",
        payload={"n": 4},
        run_after=timezone.now(),
        state=Job.State.RUNNING,
        lease_until=timezone.now() - timedelta(seconds=5),
        locked_by="dead:1",
    )
    assert jobs.sweep() == 1
    job.refresh_from_db()
    assert job.state == Job.State.DONE and CALLS == [4]


def test_unknown_job_name_is_refused_at_enqueue():
    with pytest.raises(ValueError):
        jobs.enqueue("no.such.job")
