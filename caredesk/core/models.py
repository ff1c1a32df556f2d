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


class Delivery(models.Model):
    """One outbound message in the transactional outbox (docs/decisions/0016).

    Written in the transaction that makes the reply or notification, so a rolled-back change
    sends nothing and a committed one is never lost; sent by `core.outbox.deliver` through the
    channel's transport (`caredesk.channels.base`). The row is its own durable job: claimed with
    a lease, retried with backoff, marked sent once.
    """

    class State(models.TextChoices):
        PENDING = "pending", "Pending"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"

    channel = models.CharField(max_length=12)
    # What is sent: "reply" (an agent's message), "acknowledgement", "sign_in_link", ...
    kind = models.CharField(max_length=40)
    message = models.ForeignKey(
        "tickets.Message",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="deliveries",
    )
    ticket = models.ForeignKey(
        "tickets.Ticket", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    recipient = models.CharField(max_length=320, blank=True)
    # A notification composed when it was queued (subject, body, ...); replies are read from
    # their message when sent.
    payload = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    lease_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_next_attempt")
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.kind} #{self.pk} ({self.state})"
