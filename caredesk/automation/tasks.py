"""Time-based automations, evaluated every ten minutes."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from caredesk.automation.services import run_automations


@db_periodic_task(crontab(minute="*/10"))
@lock_task("automations")
def automations() -> int:
    return run_automations()
