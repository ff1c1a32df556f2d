"""The portal's jobs, imported by the worker at start (`core.jobs.load_tasks`)."""

from caredesk.portal import services  # noqa: F401  (registers the sign-in link job)
