"""The rule builder: triggers and time-based automations edited as rows of selects and inputs
("when <event>, if <field> <operator> <value>…, then <action>…"), no JSON typed.

Each row is checked as it is typed (`automation.condition_from_text` / `action_from_text`), its
error shown next to it; the rule as a whole then goes through the same service validation as any
other save (impossible conditions, no actions…), its error shown above the rows it concerns.

Teams, agents and organizations are picked by name (a select next to the row), or typed by name
("Billing, Technical" for "is one of"); the rule stores their ids, as the evaluation compares."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict

from caredesk.accounts.models import Team, User
from caredesk.automation import services as automation
from caredesk.automation.models import Automation, Trigger
from caredesk.core.errors import DomainError
from caredesk.customers.models import Organization
from caredesk.tickets.models import ACTIVE_STATUSES, EventKind, Status

FIELD_LABELS = {
    "status": "Status",
    "priority": "Priority",
    "channel": "Channel",
    "team": "Team",
    "assignee": "Assignee",
    "tags": "Tags",
    "subject": "Subject",
    "category": "Category",
    "language": "Language",
    "body": "Message text",
    "sentiment": "Customer sentiment (-1 to 1)",
    "customer_vip": "Customer is VIP (yes/no)",
    "customer_email": "Customer email",
    "customer_language": "Customer language",
    "organization": "Organization",
    "reopened_count": "Times reopened",
    "survey_score": "Survey score (1-5)",
}
OPERATOR_LABELS = {
    "is": "is",
    "is_not": "is not",
    "contains": "contains",
    "not_contains": "does not contain",
    "in": "is one of (a, b, …)",
    "gte": "is at least",
    "lte": "is at most",
}
ACTION_LABELS = {
    "set": "Set field",
    "add_tags": "Add tags (a, b, …)",
    "assign_team": "Move to team",
    "assign_agent": "Assign to agent",
    "reply": "Reply to the customer",
    "note": "Add an internal note",
    "escalate": "Escalate (reason)",
    "notify_email": "Email someone",
    "webhook": "Call a webhook (URL)",
}
SET_LABELS = {
    "status": "status",
    "priority": "priority",
    "category": "category",
    "language": "language",
}
assert set(FIELD_LABELS) == automation.CONDITION_FIELDS
assert set(OPERATOR_LABELS) == automation.OPERATORS
assert set(ACTION_LABELS) == automation.ACTION_TYPES
assert set(SET_LABELS) == automation.SETTABLE


# Which named things a condition field or an action type picks, and the picker it uses.
PICKED_BY_CONDITION = {"team": "team", "assignee": "agent", "organization": "organization"}
PICKED_BY_ACTION = {"assign_team": "team", "assign_agent": "agent"}


class Names:
    """Teams, agents and organizations by name for one page: each read once, not once a row."""

    def __init__(self) -> None:
        self.team = [
            (str(pk), name) for pk, name in Team.objects.order_by("name").values_list("pk", "name")
        ]
        self.agent = [
            (str(pk), f"{name} <{email}>")
            for pk, name, email in User.objects.filter(is_active=True)
            .order_by("name")
            .values_list("pk", "name", "email")
        ]
        self.organization = [
            (str(pk), name)
            for pk, name in Organization.objects.order_by("name").values_list("pk", "name")[:1000]
        ]

    def choices(self, kind: str) -> list[tuple[str, str]]:
        return [("", f"— {kind} —"), *getattr(self, kind)]

    def label(self, kind: str, value: Any) -> str:
        return dict(getattr(self, kind)).get(str(value), str(value))

    def to_ids(self, kind: str, text: str) -> str:
        """Typed names (separated by commas) as the ids the rule stores; numbers and "none"
        pass as they are, an unknown name is left for the value check to refuse."""
        by_name: dict[str, str] = {}
        for pk, label in getattr(self, kind):
            by_name.setdefault(label.lower(), pk)
            if kind == "agent":  # "Name <address>": the name or the address alone too
                name, _, email = label.rpartition(" <")
                by_name.setdefault(name.lower(), pk)
                by_name.setdefault(email.rstrip(">").lower(), pk)
        items = [item.strip() for item in (text or "").split(",")]
        return ", ".join(by_name.get(item.lower(), item) for item in items if item)

    def text(self, kind: str, value: Any) -> str:
        """A stored id (or list of ids) as names, for the typed box."""
        if isinstance(value, list):
            return ", ".join(self.text(kind, v) for v in value)
        return "none" if value is None else self.label(kind, value)


class PickerRow(forms.Form):
    """A row with team, agent and organization pickers (choices from the page's `Names`)."""

    team = forms.ChoiceField(required=False, label="Team")
    agent = forms.ChoiceField(required=False, label="Agent")
    organization = forms.ChoiceField(required=False, label="Organization")

    def __init__(self, *args: Any, names: Names | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.names = names or Names()
        for kind in ("team", "agent", "organization"):
            self.fields[kind].choices = self.names.choices(kind)

    def picked_value(self, kind: str | None, cleaned: dict[str, Any]) -> str | None:
        """The value for the row: the pick, else the typed names as ids (None, with the error
        on the row, when a typed name is unknown)."""
        typed = (cleaned.get("value") or "").strip()
        if kind is None:
            return typed
        if cleaned.get(kind) and not typed:
            return str(cleaned[kind])
        ids = self.names.to_ids(kind, typed)
        unknown = [i for i in ids.split(", ") if i and not i.isdigit() and i.lower() != "none"]
        if unknown:
            self.add_error("value", f"There is no {kind} named “{unknown[0][:60]}”.")
            return None
        return ids


class ConditionRow(PickerRow):
    field = forms.ChoiceField(
        choices=[("", "— field —"), *sorted(FIELD_LABELS.items(), key=lambda item: item[1])]
    )
    op = forms.ChoiceField(choices=list(OPERATOR_LABELS.items()), initial="is", label="Operator")
    value = forms.CharField(required=False, max_length=1000)
    field_order = ["field", "op", "value"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            value = self.picked_value(PICKED_BY_CONDITION.get(cleaned["field"]), cleaned)
            if value is None:
                return cleaned
            try:
                cleaned["condition"] = automation.condition_from_text(
                    cleaned["field"], cleaned["op"], value
                )
            except DomainError as exc:
                target = "op" if exc.code == "bad_operator" else "value"
                self.add_error(target, exc.message)
        return cleaned


class ActionRow(PickerRow):
    type = forms.ChoiceField(choices=[("", "— action —"), *ACTION_LABELS.items()], label="Action")
    field = forms.ChoiceField(
        choices=[("", "— field —"), *SET_LABELS.items()], required=False, label="Field to set"
    )
    value = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 1})
    )
    field_order = ["type", "field", "value"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            value = self.picked_value(PICKED_BY_ACTION.get(cleaned["type"]), cleaned)
            if value is None:
                return cleaned
            try:
                cleaned["action"] = automation.action_from_text(
                    cleaned["type"], cleaned.get("field", ""), value
                )
            except DomainError as exc:
                target = "field" if exc.code == "unknown_field" else "value"
                self.add_error(target, exc.message)
        return cleaned


def _stored_row(names: Names, kind: str | None, stored: dict[str, Any]) -> dict[str, Any]:
    """The initial picker and typed value of a stored condition or action: a single id shows in
    its picker, a list of ids as names in the typed box."""
    value = stored.get("value")
    if kind is None:
        return {"value": automation.value_text(value) if "value" in stored else ""}
    if isinstance(value, int) and not isinstance(value, bool):
        return {kind: str(value), "value": ""}
    return {"value": names.text(kind, value)}


ConditionRows = forms.formset_factory(ConditionRow, extra=1, can_delete=True)
ActionRows = forms.formset_factory(ActionRow, extra=1, can_delete=True)


class TriggerRuleForm(forms.ModelForm):
    events = forms.MultipleChoiceField(
        choices=EventKind.choices,
        widget=forms.CheckboxSelectMultiple,
        label="When",
        help_text="The ticket events that run this trigger.",
    )

    class Meta:
        model = Trigger
        fields = ["name", "events", "active", "position"]


class AutomationRuleForm(forms.ModelForm):
    status = forms.ChoiceField(
        choices=[(s, label) for s, label in Status.choices if s in ACTIVE_STATUSES],
        help_text="Tickets in this status…",
    )
    hours = forms.IntegerField(min_value=1, help_text="…untouched for this many hours…")

    class Meta:
        model = Automation
        fields = ["name", "status", "hours", "active"]


# Which part of the page a service refusal is shown above.
CONDITION_CODES = {"impossible", "bad_condition"}
ACTION_CODES = {"no_actions", "bad_action", "unknown_placeholder"}


class RuleBuilder:
    """A trigger's or time-based automation's form with its condition and action rows."""

    def __init__(self, section: str, request: HttpRequest, instance: Any) -> None:
        self.section = section
        self.has_conditions = section == "triggers"
        form_class = TriggerRuleForm if self.has_conditions else AutomationRuleForm
        data: QueryDict | None = request.POST if request.method == "POST" else None
        self.adding_row = ""
        self.condition_errors: list[str] = []
        self.action_errors: list[str] = []
        if data is not None and data.get("add_row") in ("conditions", "actions"):
            # Without the page's script, "add a row" comes back here: one more empty row.
            self.adding_row = data["add_row"]
            data = data.copy()
            total = f"{self.adding_row}-TOTAL_FORMS"
            data[total] = str(int(data.get(total) or 0) + 1)
        self.form = form_class(data, instance=instance)
        names = Names()
        # The stored rows are the initial ones of the page; a posted form stands on its own
        # (rows equal to an initial one would otherwise count as untouched, and be dropped).
        stored = instance if data is None else None
        self.conditions = ConditionRows(
            data,
            prefix="conditions",
            form_kwargs={"names": names},
            initial=[
                {
                    "field": c.get("field"),
                    "op": c.get("op"),
                    **_stored_row(names, PICKED_BY_CONDITION.get(c.get("field", "")), c),
                }
                for c in (stored.conditions if stored is not None and self.has_conditions else [])
            ],
        )
        self.actions = ActionRows(
            data,
            prefix="actions",
            form_kwargs={"names": names},
            initial=[
                {
                    "type": a.get("type"),
                    "field": a.get("field", ""),
                    **_stored_row(names, PICKED_BY_ACTION.get(a.get("type", "")), a),
                }
                for a in (stored.actions if stored is not None else [])
            ],
        )

    @staticmethod
    def _rows(formset: Any, key: str) -> list[dict[str, Any]]:
        return [
            row.cleaned_data[key]
            for row in formset.forms
            if row.cleaned_data and not row.cleaned_data.get("DELETE") and key in row.cleaned_data
        ]

    def is_valid(self) -> bool:
        if self.adding_row:
            return False
        valid = self.form.is_valid() & self.actions.is_valid()
        if self.has_conditions:
            valid &= self.conditions.is_valid()
        return bool(valid)

    def rule(self) -> Any:
        """The rule with its rows (call after is_valid)."""
        rule = self.form.save(commit=False)
        if self.has_conditions:
            rule.conditions = self._rows(self.conditions, "condition")
        rule.actions = self._rows(self.actions, "action")
        return rule

    def refused(self, exc: DomainError) -> None:
        """Show a service refusal above the rows it concerns."""
        if exc.code in CONDITION_CODES and self.has_conditions:
            self.condition_errors.append(exc.message)
        elif exc.code in ACTION_CODES:
            self.action_errors.append(exc.message)
        elif exc.code == "bad_events" and "events" in self.form.fields:
            self.form.add_error("events", exc.message)
        else:
            self.form.add_error(None, exc.message)
