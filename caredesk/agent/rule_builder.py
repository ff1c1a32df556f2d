"""The rule builder: triggers and time-based automations edited as rows of selects and inputs
("when <event>, if <field> <operator> <value>…, then <action>…"), no JSON typed.

Each row is checked as it is typed (`automation.condition_from_text` / `action_from_text`), its
error shown next to it; the rule as a whole then goes through the same service validation as any
other save (impossible conditions, no actions…), its error shown above the rows it concerns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.http import HttpRequest, QueryDict

from caredesk.automation import services as automation
from caredesk.automation.models import Automation, Trigger
from caredesk.core.errors import DomainError
from caredesk.tickets.models import ACTIVE_STATUSES, EventKind, Status

FIELD_LABELS = {
    "status": "Status",
    "priority": "Priority",
    "channel": "Channel",
    "team": "Team (id)",
    "assignee": "Assignee (agent id)",
    "tags": "Tags",
    "subject": "Subject",
    "category": "Category",
    "language": "Language",
    "body": "Message text",
    "sentiment": "Customer sentiment (-1 to 1)",
    "customer_vip": "Customer is VIP (yes/no)",
    "customer_email": "Customer email",
    "customer_language": "Customer language",
    "organization": "Organization (id)",
    "reopened_count": "Times reopened",
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
    "assign_team": "Move to team (id)",
    "assign_agent": "Assign to agent (id)",
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


class ConditionRow(forms.Form):
    field = forms.ChoiceField(
        choices=[("", "— field —"), *sorted(FIELD_LABELS.items(), key=lambda item: item[1])]
    )
    op = forms.ChoiceField(choices=list(OPERATOR_LABELS.items()), initial="is", label="Operator")
    value = forms.CharField(required=False, max_length=1000)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                cleaned["condition"] = automation.condition_from_text(
                    cleaned["field"], cleaned["op"], cleaned.get("value", "")
                )
            except DomainError as exc:
                target = "op" if exc.code == "bad_operator" else "value"
                self.add_error(target, exc.message)
        return cleaned


class ActionRow(forms.Form):
    type = forms.ChoiceField(choices=[("", "— action —"), *ACTION_LABELS.items()], label="Action")
    field = forms.ChoiceField(
        choices=[("", "— field —"), *SET_LABELS.items()], required=False, label="Field to set"
    )
    value = forms.CharField(
        required=False, max_length=5000, widget=forms.Textarea(attrs={"rows": 1})
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            try:
                cleaned["action"] = automation.action_from_text(
                    cleaned["type"], cleaned.get("field", ""), cleaned.get("value", "")
                )
            except DomainError as exc:
                target = "field" if exc.code == "unknown_field" else "value"
                self.add_error(target, exc.message)
        return cleaned


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
        # The stored rows are the initial ones of the page; a posted form stands on its own
        # (rows equal to an initial one would otherwise count as untouched, and be dropped).
        stored = instance if data is None else None
        self.conditions = ConditionRows(
            data,
            prefix="conditions",
            initial=[
                {
                    "field": c.get("field"),
                    "op": c.get("op"),
                    "value": automation.value_text(c.get("value")),
                }
                for c in (stored.conditions if stored is not None and self.has_conditions else [])
            ],
        )
        self.actions = ActionRows(
            data,
            prefix="actions",
            initial=[
                {
                    "type": a.get("type"),
                    "field": a.get("field", ""),
                    "value": automation.value_text(a.get("value")) if "value" in a else "",
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
