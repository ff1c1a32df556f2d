"""Huey tasks of the core: durable job runner and its sweeper."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from caredesk.core import jobs


@db_task()
def run_job(job_id: int) -> str:
    return jobs.run(job_id)


@db_periodic_task(crontab(minute="*"))
def sweep_jobs() -> int:
    return jobs.sweep()


@db_task()
def deliver_task(delivery_id: int) -> str:
    from caredesk.core import outbox

    return outbox.deliver(delivery_id)


@db_periodic_task(crontab(minute="*"))
def sweep_deliveries() -> int:
    from caredesk.core import outbox

    return outbox.sweep()
