"""The filters of the agent search page: status, channel, team and a range of last-update
dates. They narrow the ticket hits (through `search(ticket_filter=...)`, with the visibility
rule); while any is set, only tickets are listed, since customers and articles have none of
these."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from django import forms
from django.db.models import Q
from django.utils import timezone

from caredesk.accounts.models import Team
from caredesk.tickets.models import Channel, Status


class SearchFilters(forms.Form):
    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)
    channel = forms.ChoiceField(choices=[("", "Any channel"), *Channel.choices], required=False)
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="Any team"
    )
    updated_from = forms.DateField(
        required=False,
        label="Updated from",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Updated from: a date like 2026-01-31."},
    )
    updated_to = forms.DateField(
        required=False,
        label="Updated until",
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": "Updated until: a date like 2026-01-31."},
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("updated_from"), cleaned.get("updated_to")
        if start and end and start > end:
            raise forms.ValidationError("The “updated from” date is after the “until” date.")
        return cleaned

    def active(self) -> bool:
        return self.is_valid() and any(self.cleaned_data.get(k) for k in self.fields)

    def ticket_filter(self) -> Q:
        """The filters as a condition on tickets (call after is_valid). Dates are whole days in
        the server's time zone, both ends included."""
        data = self.cleaned_data
        condition = Q()
        if data.get("status"):
            condition &= Q(status=data["status"])
        if data.get("channel"):
            condition &= Q(channel=data["channel"])
        if data.get("team"):
            condition &= Q(team=data["team"])
        zone = timezone.get_current_timezone()
        if data.get("updated_from"):
            condition &= Q(updated_at__gte=datetime.combine(data["updated_from"], time(), zone))
        if data.get("updated_to"):
            next_day = data["updated_to"] + timedelta(days=1)
            condition &= Q(updated_at__lt=datetime.combine(next_day, time(), zone))
        return condition
