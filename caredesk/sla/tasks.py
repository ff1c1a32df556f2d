"""SLA warnings and breaches, checked every minute."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from caredesk.sla.services import check_clocks


@db_periodic_task(crontab(minute="*"))
@lock_task("sla-clocks")
def check_sla_clocks() -> dict:
    return check_clocks()
