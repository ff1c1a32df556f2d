"""Periodic compliance jobs."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from caredesk.compliance.services import apply_retention


@db_periodic_task(crontab(minute="17", hour="3"))
def nightly_retention() -> None:
    apply_retention(dry_run=False)
