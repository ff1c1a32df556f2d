"""Forms of the workspace admin pages for macros, snippets (canned responses), business hours and
mailboxes: every value is picked by name (teams, agents, statuses, priorities, tags, time zones,
countries) and nothing is typed as JSON or as an id. The domain rules stay in the services
(`automation.save_macro`, `automation.save_snippet`); these forms turn the page into the stored
shape and say clearly what is wrong with bad input."""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from django import forms

from caredesk.accounts.models import Team, User
from caredesk.automation.models import CannedResponse, Macro
from caredesk.channels.email.models import Mailbox
from caredesk.sla.models import BusinessHours
from caredesk.tickets.models import Priority, Status, Tag

WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


@lru_cache(maxsize=1)
def time_zone_choices() -> list[tuple[str, str]]:
    return [(zone, zone.replace("_", " ")) for zone in sorted(available_timezones())]


@lru_cache(maxsize=1)
def country_choices() -> list[tuple[str, str]]:
    """Countries the `holidays` library knows public holidays for, by name."""
    from holidays.registry import COUNTRIES

    named = sorted(
        (module.replace("_", " ").title(), codes[1]) for module, codes in COUNTRIES.items()
    )
    return [("", "No public holidays")] + [(code, f"{name} ({code})") for name, code in named]


def _agents() -> Any:
    return User.objects.filter(is_active=True).order_by("name")


class AgentChoiceField(forms.ModelChoiceField):
    """Agents by name and address (two agents may share a name)."""

    def label_from_instance(self, obj: Any) -> str:
        return f"{obj.name} <{obj.email}>"


# --- macros ---------------------------------------------------------------------------------

MACRO_FIELDS = {
    "status": "Status",
    "priority": "Priority",
    "team": "Team",
    "assignee": "Assignee",
    "tags": "Add tags",
    "category": "Category",
}
ME = "me"


class MacroForm(forms.ModelForm):
    owner = AgentChoiceField(
        queryset=_agents(),
        required=False,
        empty_label="Shared with every agent",
        label="Belongs to",
        help_text="A personal macro is listed only for its owner.",
    )
    reply = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="Optional. Placeholders: {{customer.first_name}}, {{ticket.number}}, "
        "{{agent.name}}…",
    )
    internal = forms.BooleanField(
        required=False, label="As an internal note", help_text="Post the text as a note."
    )

    class Meta:
        model = Macro
        fields = ["name", "owner", "reply", "internal"]


class MacroPickerChoices:
    """The teams, agents and tags a page of macro rows offers: each read once, not once a row."""

    def __init__(self) -> None:
        self.teams = [
            (str(pk), name) for pk, name in Team.objects.order_by("name").values_list("pk", "name")
        ]
        self.agents = [
            (str(pk), f"{name} <{email}>")
            for pk, name, email in _agents().values_list("pk", "name", "email")
        ]
        self.tags = [(n, n) for n in Tag.objects.order_by("name").values_list("name", flat=True)]


class MacroChangeRow(forms.Form):
    """One "set field → value" row; the value comes from the picker of the chosen field."""

    field = forms.ChoiceField(choices=[("", "— field —"), *MACRO_FIELDS.items()], label="Set")
    status = forms.ChoiceField(choices=[("", "— status —"), *Status.choices], required=False)
    priority = forms.ChoiceField(
        choices=[("", "— priority —"), *((label, label) for _, label in Priority.choices)],
        required=False,
    )
    team = forms.ChoiceField(required=False)
    assignee = forms.ChoiceField(required=False)
    tags = forms.MultipleChoiceField(required=False)
    category = forms.CharField(required=False, max_length=100)

    def __init__(
        self, *args: Any, pickers: MacroPickerChoices | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        pickers = pickers or MacroPickerChoices()
        self.fields["team"].choices = [("", "— team —"), *pickers.teams]
        self.fields["assignee"].choices = [
            ("", "— agent —"),
            (ME, "The agent applying the macro"),
            *pickers.agents,
        ]
        self.fields["tags"].choices = pickers.tags

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        field = cleaned.get("field")
        if not field or self.errors:
            return cleaned
        value: Any = cleaned.get(field)
        if field == "team" and value or field == "assignee" and value and value != ME:
            value = int(value)
        elif field == "category":
            value = (value or "").strip()
        if value in (None, "", []):
            self.add_error(field, f"Pick the {MACRO_FIELDS[field].lower()} to set.")
        else:
            cleaned["change"] = (field, value)
        return cleaned

    @staticmethod
    def initial_for(field: str, value: Any) -> dict[str, Any]:
        """The row showing a stored change."""
        if field in ("team", "assignee"):
            return {"field": field, field: str(value)}
        return {"field": field, field: value}


class BaseMacroChangeRows(forms.BaseFormSet):
    def clean(self) -> None:
        seen: set[str] = set()
        for row in self.forms:
            change = (row.cleaned_data or {}).get("change")
            if change is None or (row.cleaned_data or {}).get("DELETE"):
                continue
            if change[0] in seen:
                raise forms.ValidationError(
                    f"{MACRO_FIELDS[change[0]]} is set twice: keep one row for it."
                )
            seen.add(change[0])

    def changes(self) -> dict[str, Any]:
        return dict(
            row.cleaned_data["change"]
            for row in self.forms
            if row.cleaned_data and "change" in row.cleaned_data and not row.cleaned_data["DELETE"]
        )


MacroChangeRows = forms.formset_factory(
    MacroChangeRow, formset=BaseMacroChangeRows, extra=1, can_delete=True
)


def macro_change_rows(data: Any, macro: Macro | None) -> BaseMacroChangeRows:
    stored = (macro.changes or {}) if macro is not None and data is None else {}
    return MacroChangeRows(  # type: ignore[return-value]
        data,
        prefix="changes",
        form_kwargs={"pickers": MacroPickerChoices()},
        initial=[MacroChangeRow.initial_for(k, v) for k, v in stored.items() if k in MACRO_FIELDS],
    )


# --- snippets -------------------------------------------------------------------------------


class SnippetForm(forms.ModelForm):
    shortcut = forms.RegexField(
        regex=r"^[a-z0-9_-]{1,40}$",
        error_messages={"invalid": "Lowercase letters, digits, - and _ only (e.g. refund-policy)."},
        help_text="Typed as ::shortcut in the reply box.",
    )
    owner = AgentChoiceField(
        queryset=_agents(),
        required=False,
        empty_label="Shared with every agent",
        label="Belongs to",
        help_text="A personal snippet wins over a shared one with the same shortcut.",
    )

    class Meta:
        model = CannedResponse
        fields = ["shortcut", "title", "body", "owner"]

    def clean_shortcut(self) -> str:
        return str(self.cleaned_data["shortcut"]).lower()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        shortcut, owner = cleaned.get("shortcut"), cleaned.get("owner")
        # The database constraint cannot see duplicates among shared snippets (NULL owner).
        if shortcut and owner is None:
            clash = CannedResponse.objects.filter(shortcut=shortcut, owner__isnull=True)
            if self.instance.pk:
                clash = clash.exclude(pk=self.instance.pk)
            if clash.exists():
                self.add_error("shortcut", f"There is already a shared snippet ::{shortcut}.")
        return cleaned


# --- business hours -------------------------------------------------------------------------


def _time_choices(label: str) -> list[tuple[str, str]]:
    times = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 30)]
    return [("", label)] + [(t, t) for t in times] + [("24:00", "24:00 (midnight)")]


def _minutes(value: str) -> int:
    hour, minute = value.split(":")
    return int(hour) * 60 + int(minute)


class BusinessHoursForm(forms.ModelForm):
    """Opening hours as a week grid: up to two opening windows per weekday (e.g. a lunch break),
    a day with none is closed. Holidays: a country's public ones and dates of your own."""

    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="No team (picked by SLA policies)",
        help_text="The team whose tickets run on these hours.",
    )
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC")
    country = forms.ChoiceField(choices=country_choices, required=False, label="Public holidays of")
    subdivision = forms.CharField(
        required=False, max_length=8, help_text="Optional state or region code, e.g. BY or CA."
    )
    custom_holidays = forms.CharField(
        required=False,
        label="Other closed days",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="One date a line, as YYYY-MM-DD.",
    )

    class Meta:
        model = BusinessHours
        fields = ["name", "team", "time_zone", "country", "subdivision", "custom_holidays"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schedule = (self.instance.schedule if self.instance.pk else None) or {}
        if not self.instance.pk:
            # A new calendar starts as office hours, Monday to Friday.
            schedule = {str(day): [["09:00", "17:00"]] for day in range(5)}
        for day, name in enumerate(WEEKDAYS):
            spans = list(schedule.get(str(day), []))[:2]
            for window in (1, 2):
                for end, label in ((0, "opens"), (1, "closes")):
                    key = self.grid_key(day, window, end)
                    self.fields[key] = forms.ChoiceField(
                        choices=_time_choices("closed" if end == 0 else "—"),
                        required=False,
                        label=f"{name} {label}" + (" again" if window == 2 and end == 0 else ""),
                    )
                    if len(spans) >= window:
                        self.initial[key] = spans[window - 1][end]
        if self.instance.pk:
            self.initial["custom_holidays"] = "\n".join(self.instance.custom_holidays or [])

    @staticmethod
    def grid_key(day: int, window: int, end: int) -> str:
        return f"day{day}_{'from' if end == 0 else 'to'}{window}"

    def settings_fields(self) -> list[Any]:
        return [self[name] for name in self.Meta.fields]

    def grid(self) -> list[tuple[str, list[Any]]]:
        """(weekday, its four time pickers) for the template's week table."""
        return [
            (
                name,
                [self[self.grid_key(day, w, e)] for w in (1, 2) for e in (0, 1)],
            )
            for day, name in enumerate(WEEKDAYS)
        ]

    def clean_custom_holidays(self) -> list[str]:
        days = []
        for line in (self.cleaned_data.get("custom_holidays") or "").splitlines():
            line = line.strip()
            if not line:
                continue
            try:
                days.append(date.fromisoformat(line).isoformat())
            except ValueError:
                raise forms.ValidationError(
                    f"“{line[:40]}” is not a date: write it as YYYY-MM-DD, e.g. 2026-12-25."
                ) from None
        return sorted(set(days))

    def clean_subdivision(self) -> str:
        return (self.cleaned_data.get("subdivision") or "").strip().upper()

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        schedule: dict[str, list[list[str]]] = {}
        for day, name in enumerate(WEEKDAYS):
            spans: list[list[str]] = []
            for window in (1, 2):
                start_key, end_key = self.grid_key(day, window, 0), self.grid_key(day, window, 1)
                start, end = cleaned.get(start_key) or "", cleaned.get(end_key) or ""
                if not start and not end:
                    continue
                if not start or not end:
                    self.add_error(start_key, f"{name}: pick both the opening and closing time.")
                elif _minutes(end) <= _minutes(start):
                    self.add_error(end_key, f"{name}: the closing time is after {start}.")
                elif spans and _minutes(start) < _minutes(spans[-1][1]):
                    self.add_error(
                        start_key, f"{name}: the second opening starts after {spans[-1][1]}."
                    )
                else:
                    spans.append([start, end])
            if spans:
                schedule[str(day)] = spans
        country = cleaned.get("country")
        if cleaned.get("subdivision") and country:
            import holidays

            known = holidays.list_supported_countries().get(country, [])
            if cleaned["subdivision"] not in known:
                self.add_error(
                    "subdivision",
                    f"{country} has no region {cleaned['subdivision']}; known: "
                    + (", ".join(known[:40]) or "none"),
                )
        if not schedule and not self.errors:
            raise forms.ValidationError(
                "Open on at least one day. (For around-the-clock targets, give the SLA policy "
                "no business hours.)"
            )
        self.instance.schedule = schedule
        return cleaned


# --- mailboxes ------------------------------------------------------------------------------


class MailboxForm(forms.ModelForm):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="No team (routing decides)",
        help_text="New tickets to this address go to this team.",
    )
    password = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="For polling. Blank keeps the current one.",
    )
    port = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=65535,
        help_text="Blank: the protocol's usual port.",
    )

    class Meta:
        model = Mailbox
        fields = [
            "address",
            "name",
            "team",
            "signature",
            "active",
            "auto_acknowledge",
            "protocol",
            "host",
            "port",
            "use_ssl",
            "username",
            "password",
            "folder",
            "processed_folder",
        ]
        labels = {
            "auto_acknowledge": "Acknowledge new tickets",
            "use_ssl": "Use SSL/TLS",
            "processed_folder": "Move processed mail to",
        }

    def clean_address(self) -> str:
        return str(self.cleaned_data["address"]).strip().lower()

    def clean_host(self) -> str:
        host = (self.cleaned_data.get("host") or "").strip()
        if host and not re.fullmatch(r"[A-Za-z0-9.-]+", host):
            raise forms.ValidationError("A host name like imap.example.com (no scheme, no port).")
        return host

    def clean_password(self) -> str:
        secret = self.cleaned_data.get("password") or ""
        return secret or (self.instance.password if self.instance.pk else "")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("protocol"):
            for key, label in (("host", "server"), ("username", "user name")):
                if not cleaned.get(key):
                    self.add_error(key, f"Polling needs the {label}.")
            if not cleaned.get("password"):
                self.add_error("password", "Polling needs the password.")
        return cleaned
