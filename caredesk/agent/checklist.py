"""The first-run checklist on a new admin's home: the five things a working desk needs. Each
step is ticked by the data itself (a mailbox exists, an SLA policy is active…), never by a
"done" flag, so it stays true to the workspace whoever set things up and however (pages, API,
import). An admin may hide the list; it is also gone once every step is done."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet
from django.urls import reverse

from caredesk.accounts.models import Team, User
from caredesk.agent.models import ChecklistDismissal
from caredesk.channels.chat.models import ChatWidget
from caredesk.channels.email.models import Mailbox
from caredesk.sla.models import BusinessHours, SlaPolicy


@dataclass(frozen=True)
class Step:
    key: str
    title: str
    why: str
    section: str  # the workspace admin page that does it
    done: bool

    @property
    def url(self) -> str:
        return reverse("agent:admin-section", kwargs={"section": self.section})


# (key, title, why, admin page, the data that means it is done)
STEPS: list[tuple[str, str, str, str, QuerySet]] = [  # type: ignore[type-arg]
    (
        "mailbox",
        "Connect a support mailbox",
        "Mail to your support address becomes tickets.",
        "mailboxes",
        Mailbox.objects.filter(active=True),
    ),
    (
        "hours",
        "Set your business hours",
        "SLA clocks only run while you are open.",
        "hours",
        BusinessHours.objects.all(),
    ),
    (
        "sla",
        "Add an SLA policy",
        "Targets for first response and resolution.",
        "sla",
        SlaPolicy.objects.filter(active=True),
    ),
    (
        "team",
        "Create a team",
        "Tickets are routed to teams; agents work in them.",
        "teams",
        Team.objects.all(),
    ),
    (
        "widget",
        "Set up the chat widget",
        "Customers chat with you from your own site.",
        "widgets",
        ChatWidget.objects.filter(active=True),
    ),
]


def setup_steps() -> list[Step]:
    """Every step with whether the workspace's data has it done."""
    return [
        Step(key, title, why, section, query.exists()) for key, title, why, section, query in STEPS
    ]


def is_dismissed(admin: User) -> bool:
    return ChecklistDismissal.objects.filter(owner=admin).exists()


def checklist_for(admin: User) -> list[Step] | None:
    """The checklist to show an admin on their home, or None: not an admin, hidden by them, or
    every step done."""
    if not admin.is_admin or is_dismissed(admin):
        return None
    steps = setup_steps()
    return None if all(step.done for step in steps) else steps


def dismiss(admin: User) -> None:
    ChecklistDismissal.objects.get_or_create(owner=admin)


def restore(admin: User) -> None:
    ChecklistDismissal.objects.filter(owner=admin).delete()
