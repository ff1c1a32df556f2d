"""Unassigned tickets never stall: re-offer them every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from caredesk.routing.services import reroute_pass


@db_periodic_task(crontab(minute="*"))
@lock_task("routing-pass")
def reroute() -> dict:
    return reroute_pass()
