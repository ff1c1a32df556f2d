"""Periodic workspace jobs."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from caredesk.agent.services import delete_unsent_composer_images


@db_periodic_task(crontab(minute="41", hour="3"))
def nightly_unsent_image_cleanup() -> None:
    delete_unsent_composer_images()
