"""Cross-cutting records: idempotent API responses."""

from django.db import models


class IdempotencyRecord(models.Model):
    """The stored answer to a POST made with an Idempotency-Key, replayed on a retry."""

    key_hash = models.CharField(max_length=64, unique=True)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    status_code = models.PositiveSmallIntegerField()
    content_type = models.CharField(max_length=100)
    body = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)


class Job(models.Model):
    """A durable background job: claimed with a lease, so no job runs twice and none is lost.

    Huey delivers the work; this row decides who may run it. A worker that dies mid-job leaves
    an expired lease, and the sweeper hands the job out again.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        RUNNING = "running", "Running"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    name = models.CharField(max_length=100)
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    run_after = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    locked_by = models.CharField(max_length=100, blank=True)
    last_error = models.TextField(blank=True)
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["state", "run_after"], name="job_state_run_after")]

    def __str__(self) -> str:
        return f"{self.name} #{self.pk} ({self.state})"


class JobAttempt(models.Model):
    """One try of a job by one worker: how the 'exactly once' promise is checked."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="runs")
    worker = models.CharField(max_length=100)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=10, blank=True)
