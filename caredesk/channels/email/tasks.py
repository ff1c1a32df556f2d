"""Periodic mail polling."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from caredesk.channels.email.models import Mailbox
from caredesk.channels.email.polling import poll


@db_periodic_task(crontab(minute="*"))
@lock_task("email-polling")
def poll_mailboxes() -> int:
    total = 0
    for mailbox in Mailbox.objects.filter(active=True).exclude(protocol="").exclude(host=""):
        total += poll(mailbox)
    return total
