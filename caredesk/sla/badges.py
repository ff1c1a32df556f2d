"""How an SLA clock reads to an agent: "breaches in 25 min", "breached 10 min ago", "paused".

The inbox rows and the ticket page say it the same way; agent.js counts the same phrases down
in the browser between page loads (keep the two in step)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class SlaBadge:
    label: str
    state: str  # "ok", "warning" (inside the policy's warning window), "breached", "paused"
    due_iso: str  # the target as ISO 8601 ("" when paused), for the live countdown
    warn_seconds: int


def span(seconds: float) -> str:
    """A duration as an agent reads it at a glance: 45 s, 25 min, 2 h 5 min, 3 d 4 h."""
    seconds = int(abs(seconds))
    minutes = seconds // 60
    if minutes < 1:
        return "less than 1 min"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def badge(
    next_due: datetime | None,
    paused_since: datetime | None,
    warn_before_minutes: int | None,
    now: datetime,
) -> SlaBadge | None:
    """The badge of a ticket's SLA clock; None when it has no running or paused target."""
    warn_seconds = (warn_before_minutes or 0) * 60
    if paused_since is not None:
        return SlaBadge("SLA paused", "paused", "", warn_seconds)
    if next_due is None:
        return None
    left = (next_due - now).total_seconds()
    if left <= 0:
        return SlaBadge(
            f"breached {span(left)} ago", "breached", next_due.isoformat(), warn_seconds
        )
    state = "warning" if left <= warn_seconds else "ok"
    return SlaBadge(f"breaches in {span(left)}", state, next_due.isoformat(), warn_seconds)
