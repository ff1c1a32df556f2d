"""Chat offers nobody answered move on to the next agent; waiting chats are offered again;
agents whose workspace is gone go offline."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from caredesk.channels.chat.services import lapse_presence, reoffer_stale


@db_periodic_task(crontab(minute="*"))
@lock_task("chat-reoffer")
def reoffer_waiting_chats() -> int:
    return reoffer_stale()


@db_periodic_task(crontab(minute="*"))
@lock_task("chat-presence-lapse")
def lapse_absent_presence() -> int:
    return lapse_presence()
