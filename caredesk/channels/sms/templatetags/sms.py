"""Template tags of the SMS channel: webhook URLs on the admin page, and the composer's opt-out
notice and segment counter on SMS tickets."""

from __future__ import annotations

from typing import Any

from django import template

from caredesk.channels.sms import services
from caredesk.tickets.models import Ticket

register = template.Library()


@register.simple_tag
def sms_webhook_url(path: str) -> str:
    return services.webhook_url(path)


@register.inclusion_tag("sms/_composer.html")
def sms_composer(ticket: Ticket) -> dict[str, Any]:
    return {"ticket": ticket, "opt_out": services.ticket_opt_out(ticket)}
