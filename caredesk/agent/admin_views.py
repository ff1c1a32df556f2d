"""Admin pages in the workspace: teams, agents (roles, tiers, teams, skills), skills, tags,
custom fields, chat widgets, mailboxes, business hours, macros and snippets (admins), and the
flow: triggers, time-based automations and SLA policies (team leads and admins). Nobody needs the
Django admin. The admin's home is the first-run checklist (`setup_checklist`)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render

from caredesk.accounts import services as accounts
from caredesk.accounts.models import Role, Skill, Team, Tier, User
from caredesk.agent import checklist, setup_forms
from caredesk.agent.rule_builder import RuleBuilder
from caredesk.agent.setup_forms import time_zone_choices
from caredesk.agent.views import agent_view
from caredesk.automation import services as automation
from caredesk.automation.models import Automation, CannedResponse, Macro, Trigger
from caredesk.channels.chat.models import ChatWidget
from caredesk.channels.email.models import Mailbox
from caredesk.channels.sms.forms import SmsAccountForm
from caredesk.channels.sms.models import SmsAccount
from caredesk.core.errors import DomainError
from caredesk.customers.models import Organization
from caredesk.sla import services as sla
from caredesk.sla.models import BusinessHours, SlaPolicy
from caredesk.tickets.models import Channel, CustomField, Priority, Status, Tag


class TeamForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=time_zone_choices, initial="UTC")

    class Meta:
        model = Team
        fields = ["name", "slug", "description", "time_zone", "email_address"]


class SkillForm(forms.ModelForm):
    class Meta:
        model = Skill
        fields = ["name"]


class TagForm(forms.ModelForm):
    class Meta:
        model = Tag
        fields = ["name"]


class CustomFieldForm(forms.ModelForm):
    choices = forms.CharField(required=False, help_text="For choice fields: one value per line")

    class Meta:
        model = CustomField
        fields = ["key", "label", "field_type", "choices", "required", "active", "position"]

    def clean_choices(self) -> list[str]:
        raw = self.cleaned_data.get("choices") or ""
        if isinstance(raw, list):
            return raw
        return [line.strip() for line in raw.splitlines() if line.strip()]


class LinesField(forms.CharField):
    """A list of short texts edited one a line (never as JSON)."""

    widget = forms.Textarea(attrs={"rows": 3, "spellcheck": "false"})

    def prepare_value(self, value: Any) -> Any:
        return "\n".join(value) if isinstance(value, list) else value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        return [line.strip() for line in text.splitlines() if line.strip()]


class ChatWidgetForm(forms.ModelForm):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"), required=False, empty_label="No team"
    )
    allowed_origins = LinesField(
        required=False,
        help_text="Sites that may embed the widget, one a line, e.g. https://shop.example",
    )
    topics = LinesField(
        required=False, help_text="Choices for the topic field, one a line, e.g. Orders"
    )
    identity_secret = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="For signed identities (HMAC-SHA256 of the site's user id). Blank keeps the current one.",
    )

    class Meta:
        model = ChatWidget
        fields = [
            "name",
            "key",
            "team",
            "allowed_origins",
            "identity_secret",
            "color",
            "greeting",
            "position",
            "ask_name",
            "require_email",
            "topics",
            "offline_message",
            "active",
        ]

    def clean_color(self) -> str:
        color = self.cleaned_data["color"]
        if not re.fullmatch(r"#[0-9a-fA-F]{6}", color or ""):
            raise forms.ValidationError("A colour like #1d4ed8.")
        return color

    def clean_allowed_origins(self) -> list[str]:
        origins = self.cleaned_data.get("allowed_origins") or []
        for origin in origins:
            if not (origin == "*" or re.fullmatch(r"https?://[^/\s]+", origin)):
                raise forms.ValidationError(
                    f"“{origin[:80]}” is not an origin: one a line like https://shop.example "
                    "(scheme and host, no path)."
                )
        return origins

    def clean_topics(self) -> list[str]:
        topics = self.cleaned_data.get("topics") or []
        if any(len(t) > 100 for t in topics):
            raise forms.ValidationError("A topic is at most 100 characters.")
        return topics

    def clean_identity_secret(self) -> str:
        secret = self.cleaned_data.get("identity_secret") or ""
        return secret or (self.instance.identity_secret if self.instance.pk else "")


class AgentForm(forms.Form):
    email = forms.EmailField()
    name = forms.CharField(max_length=150)
    password = forms.CharField(
        required=False, widget=forms.PasswordInput, help_text="Only for new agents"
    )
    role = forms.ChoiceField(choices=Role.choices)
    tier = forms.ChoiceField(choices=Tier.choices)
    teams = forms.ModelMultipleChoiceField(queryset=Team.objects.all(), required=False)
    skills = forms.ModelMultipleChoiceField(queryset=Skill.objects.all(), required=False)
    languages = forms.CharField(required=False, help_text="Comma-separated codes, e.g. en, de")
    capacity = forms.IntegerField(min_value=0, max_value=1000, initial=10)
    is_active = forms.BooleanField(required=False, initial=True)


class PickedMany(forms.ModelMultipleChoiceField):
    """A multiple picker that reads an empty value (a client posting "") as nothing picked."""

    def clean(self, value: Any) -> Any:
        return super().clean([v for v in value or [] if v not in ("", None)])


class FlowForm(forms.ModelForm):
    """A rule form whose instance is checked by the domain's validation before anything is
    saved: a refused rule shows the service's message on the form."""

    def validate(self, instance: Any) -> None:
        raise NotImplementedError

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not self.errors:
            candidate = self._meta.model(
                **{k: v for k, v in cleaned.items() if k in self._meta.fields}  # type: ignore[union-attr]
            )
            try:
                self.validate(candidate)
            except DomainError as exc:
                raise forms.ValidationError(exc.message, code=exc.code) from exc
        return cleaned


class SlaPolicyForm(FlowForm):
    """An SLA policy; which tickets it applies to is picked with checkboxes and inputs, and
    stored as the policy's conditions (empty: every ticket)."""

    if_priority = forms.MultipleChoiceField(
        choices=[(label, label) for _, label in Priority.choices],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="If priority is",
        help_text="None ticked: any priority.",
    )
    if_channel = forms.MultipleChoiceField(
        choices=Channel.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="If channel is",
        help_text="None ticked: any channel.",
    )
    if_team = forms.ModelMultipleChoiceField(
        queryset=Team.objects.all(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="If team is",
    )
    if_tags = forms.CharField(
        required=False, label="If tagged", help_text="Any of these tags, separated by commas."
    )
    if_organization = PickedMany(
        queryset=Organization.objects.order_by("name"),
        required=False,
        label="If organization is",
        help_text="None picked: any organization.",
    )
    if_vip = forms.ChoiceField(
        choices=[("", "VIP or not"), ("yes", "VIP customers only"), ("no", "Not VIP customers")],
        required=False,
        label="If the customer is",
    )
    pause_statuses = forms.MultipleChoiceField(
        choices=Status.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="The clocks stop while a ticket is in these statuses.",
    )
    field_order = [
        "name",
        "position",
        "active",
        "if_priority",
        "if_channel",
        "if_team",
        "if_tags",
        "if_organization",
        "if_vip",
    ]

    class Meta:
        model = SlaPolicy
        fields = [
            "name",
            "position",
            "active",
            "first_response_minutes",
            "next_response_minutes",
            "resolution_minutes",
            "business_hours",
            "pause_statuses",
            "warn_before_minutes",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        conditions = (self.instance.conditions if self.instance.pk else None) or {}
        self.initial.update(
            {
                "if_priority": conditions.get("priority", []),
                "if_channel": conditions.get("channel", []),
                "if_team": conditions.get("team", []),
                "if_tags": ", ".join(conditions.get("tags", [])),
                "if_organization": conditions.get("organization", []),
                "if_vip": {True: "yes", False: "no"}.get(conditions.get("vip"), ""),
            }
        )

    def clean(self) -> dict[str, Any]:
        data = self.cleaned_data
        conditions: dict[str, Any] = {
            "priority": data.get("if_priority") or [],
            "channel": data.get("if_channel") or [],
            "team": [team.pk for team in data.get("if_team") or []],
            "tags": [t.strip() for t in (data.get("if_tags") or "").split(",") if t.strip()],
            "organization": [org.pk for org in data.get("if_organization") or []],
        }
        conditions = {key: value for key, value in conditions.items() if value}
        if data.get("if_vip"):
            conditions["vip"] = data["if_vip"] == "yes"
        data["conditions"] = conditions
        return super().clean()

    def _post_clean(self) -> None:
        super()._post_clean()
        self.instance.conditions = self.cleaned_data.get("conditions", {})

    def validate(self, instance: Any) -> None:
        instance.conditions = self.cleaned_data.get("conditions", {})
        sla.validate_policy(instance)


# The flow: what team leads shape. Each section saves through its domain service; triggers and
# time-based automations are edited in the rule builder (rule_builder.py), SLA policies here.
FLOW_SECTIONS: dict[str, dict[str, Any]] = {
    "triggers": {
        "title": "Triggers",
        "model": Trigger,
        "save": automation.save_trigger,
        "columns": ["position", "name", "events", "active"],
    },
    "automations": {
        "title": "Time-based automations",
        "model": Automation,
        "save": automation.save_automation,
        "columns": ["name", "status", "hours", "active"],
    },
    "sla": {
        "title": "SLA policies",
        "model": SlaPolicy,
        "form": SlaPolicyForm,
        "save": sla.save_policy,
        "columns": ["position", "name", "first_response_minutes", "resolution_minutes", "active"],
    },
}

SECTIONS: dict[str, dict[str, Any]] = {
    "teams": {
        "title": "Teams",
        "model": Team,
        "form": TeamForm,
        "columns": ["name", "slug", "time_zone"],
    },
    "skills": {"title": "Skills", "model": Skill, "form": SkillForm, "columns": ["name"]},
    "tags": {"title": "Tags", "model": Tag, "form": TagForm, "columns": ["name"]},
    "fields": {
        "title": "Custom fields",
        "model": CustomField,
        "form": CustomFieldForm,
        "columns": ["key", "label", "field_type", "active"],
    },
    "widgets": {
        "title": "Chat widgets",
        "model": ChatWidget,
        "form": ChatWidgetForm,
        "columns": ["name", "key", "team", "active"],
        "related": ["team"],
    },
    "mailboxes": {
        "title": "Mailboxes",
        "model": Mailbox,
        "form": setup_forms.MailboxForm,
        "columns": ["address", "name", "team", "protocol", "active"],
        "related": ["team"],
        "delete": True,
    },
    "sms": {
        "title": "SMS (Twilio)",
        "model": SmsAccount,
        "form": SmsAccountForm,
        "columns": ["name", "phone_number", "team", "active"],
        "related": ["team"],
        "delete": True,
        "template": "sms/admin_sms.html",
    },
    "hours": {
        "title": "Business hours",
        "model": BusinessHours,
        "form": setup_forms.BusinessHoursForm,
        "columns": ["name", "team", "time_zone", "country"],
        "related": ["team"],
        "delete": True,
        "template": "agent/admin_hours.html",
    },
    "macros": {
        "title": "Macros",
        "model": Macro,
        "columns": ["name", "owner", "internal"],
        "related": ["owner"],
    },
    "snippets": {
        "title": "Snippets",
        "model": CannedResponse,
        "form": setup_forms.SnippetForm,
        "save": automation.save_snippet,
        "columns": ["shortcut", "title", "owner"],
        "related": ["owner"],
        "delete": True,
    },
}


def _require_admin(request: HttpRequest) -> None:
    if not getattr(request.user, "is_admin", False):
        raise PermissionDenied("Only admins can change the configuration.")


def _require_lead(request: HttpRequest) -> None:
    if not getattr(request.user, "is_lead", False):
        raise PermissionDenied("Only team leads and admins can change the flow.")


@agent_view
def admin_home(request: HttpRequest) -> HttpResponse:
    """An admin's home is the first-run checklist until every step is done or they hide it."""
    _require_lead(request)
    if checklist.checklist_for(request.user) is not None:  # type: ignore[arg-type]
        return _setup(request)
    first = "agents" if request.user.is_admin else "triggers"  # type: ignore[union-attr]
    return redirect("agent:admin-section", section=first)


def _setup(request: HttpRequest) -> HttpResponse:
    """The checklist page (also reachable once hidden or done): hide it, or bring it back."""
    admin: User = request.user  # type: ignore[assignment]
    if request.method == "POST":
        if request.POST.get("checklist") == "hide":
            checklist.dismiss(admin)
            messages.success(request, "Checklist hidden. It stays under Admin → Setup checklist.")
            return redirect("agent:admin")
        if request.POST.get("checklist") == "show":
            checklist.restore(admin)
            return redirect("agent:admin")
    steps = checklist.setup_steps()
    return render(
        request,
        "agent/admin_setup.html",
        {
            "sections": _nav(request),
            "section": "setup",
            "title": "Setup checklist",
            "steps": steps,
            "done": sum(step.done for step in steps),
            "dismissed": checklist.is_dismissed(admin),
        },
    )


@agent_view
def admin_section(request: HttpRequest, section: str, item_id: int | None = None) -> HttpResponse:
    if section in FLOW_SECTIONS:
        _require_lead(request)
        return _flow(request, section, item_id)
    if section == "csat":
        from caredesk.surveys.views import report

        return report(request, _nav(request))  # leads and admins: it checks
    _require_admin(request)
    if section == "setup":
        return _setup(request)
    if section == "agents":
        return _agents(request, item_id)
    if section == "surveys":
        from caredesk.surveys.views import settings_section

        return settings_section(request, _nav(request))
    if section == "macros":
        return _macro(request, item_id)
    config = SECTIONS.get(section)
    if config is None:
        raise PermissionDenied("Unknown section")
    model = config["model"]
    instance = get_object_or_404(model, pk=item_id) if item_id else None
    form = config["form"](request.POST or None, instance=instance)
    status = 200
    if request.method == "POST":
        if request.POST.get("delete") and instance is not None:
            if model is Tag or config.get("delete"):
                instance.delete()
                messages.success(request, f"Deleted “{instance}”.")
            elif model is CustomField:
                CustomField.objects.filter(pk=instance.pk).update(active=False)
                messages.success(request, "Deactivated (values on tickets are kept).")
            return redirect("agent:admin-section", section=section)
        if form.is_valid():
            try:
                if "save" in config:
                    saved = config["save"](form.save(commit=False))
                else:
                    saved = form.save()
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Saved “{saved}”.")
                return redirect("agent:admin-section", section=section)
        messages.error(request, "Not saved: see the errors below.")
        status = 422
    return render(
        request,
        config.get("template", "agent/admin.html"),
        {
            "sections": _nav(request),
            "section": section,
            "title": config["title"],
            "columns": [c.replace("_", " ") for c in config["columns"]],
            "rows": _rows(config),
            "form": form,
            "editing": instance,
            "delete_label": "Delete"
            if model is Tag or config.get("delete")
            else {"fields": "Deactivate"}.get(section),
        },
        status=status,
    )


def _rows(config: dict[str, Any]) -> list[list[Any]]:
    """The section's table: the configured columns of up to 500 objects, then the id (for the
    Edit link). Choice fields show their labels; booleans are shown by the template as Yes/No."""
    model = config["model"]
    objects = model.objects.select_related(*config.get("related", []))[:500]

    def cell(obj: Any, column: str) -> Any:
        display = getattr(obj, f"get_{column}_display", None)
        value = display() if display is not None else getattr(obj, column)
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return "" if value is None else value

    return [[cell(obj, c) for c in config["columns"]] + [obj.pk] for obj in objects]


def _macro(request: HttpRequest, item_id: int | None) -> HttpResponse:
    """A macro: name, owner, reply text, and its changes as "set field → value" rows."""
    macro = get_object_or_404(Macro, pk=item_id) if item_id else None
    data: QueryDict | None = request.POST if request.method == "POST" else None
    adding_row = data is not None and data.get("add_row") == "changes"
    if adding_row and data is not None:
        # Without the page's script, "add a row" comes back here: one more empty row.
        data = data.copy()
        data["changes-TOTAL_FORMS"] = str(int(data.get("changes-TOTAL_FORMS") or 0) + 1)
    form = setup_forms.MacroForm(data, instance=macro)
    rows = setup_forms.macro_change_rows(data, macro)
    status = 200
    if data is not None and not adding_row:
        if data.get("delete") and macro is not None:
            macro.delete()
            messages.success(request, f"Deleted “{macro.name}”.")
            return redirect("agent:admin-section", section="macros")
        if form.is_valid() & rows.is_valid():
            candidate = form.save(commit=False)
            candidate.changes = rows.changes()
            try:
                saved = automation.save_macro(candidate)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Saved “{saved.name}”.")
                return redirect("agent:admin-section", section="macros")
        messages.error(request, "Not saved: see the errors below.")
        status = 422
    return render(
        request,
        "agent/admin_macro.html",
        {
            "sections": _nav(request),
            "section": "macros",
            "title": "Macros",
            "columns": SECTIONS["macros"]["columns"],
            "rows": _rows(SECTIONS["macros"]),
            "form": form,
            "change_rows": rows,
            "editing": macro,
        },
        status=status,
    )


def _flow(request: HttpRequest, section: str, item_id: int | None) -> HttpResponse:
    config = FLOW_SECTIONS[section]
    model = config["model"]
    instance = get_object_or_404(model, pk=item_id) if item_id else None
    if section in ("triggers", "automations"):
        return _rule(request, section, instance)
    form = config["form"](request.POST or None, instance=instance)
    if request.method == "POST":
        if request.POST.get("delete") and instance is not None:
            instance.delete()
            messages.success(request, f"Deleted “{instance.name}”.")
            return redirect("agent:admin-section", section=section)
        if form.is_valid():
            try:
                saved = config["save"](form.instance)
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, f"Saved “{saved.name}”.")
                return redirect("agent:admin-section", section=section)
        messages.error(request, "Not saved: see the errors below.")
    return render(
        request,
        "agent/admin.html",
        {
            "sections": _nav(request),
            "section": section,
            "title": config["title"],
            "columns": [c.replace("_", " ") for c in config["columns"]],
            "rows": _rows(config),
            "form": form,
            "editing": instance,
            "delete_label": "Delete",
        },
        status=422 if request.method == "POST" else 200,
    )


def _rule(request: HttpRequest, section: str, instance: Any) -> HttpResponse:
    """A trigger or time-based automation in the rule builder."""
    config = FLOW_SECTIONS[section]
    builder = RuleBuilder(section, request, instance)
    status = 200
    if request.method == "POST":
        if request.POST.get("delete") and instance is not None:
            instance.delete()
            messages.success(request, f"Deleted “{instance.name}”.")
            return redirect("agent:admin-section", section=section)
        if builder.is_valid():
            try:
                saved = config["save"](builder.rule())
            except DomainError as exc:
                builder.refused(exc)
            else:
                messages.success(request, f"Saved “{saved.name}”.")
                return redirect("agent:admin-section", section=section)
        if not builder.adding_row:
            messages.error(request, "Not saved: see the errors below.")
            status = 422
    return render(
        request,
        "agent/admin_rule.html",
        {
            "sections": _nav(request),
            "section": section,
            "title": config["title"],
            "columns": [c.replace("_", " ") for c in config["columns"]],
            "rows": _rows(config),
            "builder": builder,
            "form": builder.form,
            "editing": instance,
        },
        status=status,
    )


def _nav(request: HttpRequest) -> list[tuple[str, str]]:
    flow = [(k, v["title"]) for k, v in FLOW_SECTIONS.items()] + [("csat", "CSAT report")]
    if not getattr(request.user, "is_admin", False):
        return flow
    from caredesk.channels.email.sink import sink_active

    sink = [("sent-mail", "Sent mail")] if sink_active() else []  # the demo's mail sink
    return (
        [("setup", "Setup checklist"), ("agents", "Agents")]
        + [(k, v["title"]) for k, v in SECTIONS.items()]
        + [("surveys", "CSAT surveys")]
        + flow
        + sink
    )


def _agents(request: HttpRequest, item_id: int | None) -> HttpResponse:
    agent = get_object_or_404(User, pk=item_id) if item_id else None
    initial = {}
    if agent is not None:
        initial = {
            "email": agent.email,
            "name": agent.name,
            "role": agent.role,
            "tier": agent.tier,
            "teams": agent.teams.all(),
            "skills": agent.skills.all(),
            "languages": ", ".join(agent.languages),
            "capacity": agent.capacity,
            "is_active": agent.is_active,
        }
    form = AgentForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        languages = [code.strip() for code in data["languages"].split(",") if code.strip()] or [
            "en"
        ]
        try:
            if agent is None:
                agent = accounts.create_agent(
                    email=data["email"],
                    name=data["name"],
                    password=data["password"] or None,
                    role=data["role"],
                    tier=data["tier"],
                    teams=list(data["teams"]),
                    languages=languages,
                    capacity=data["capacity"],
                )
                agent.skills.set(data["skills"])
            else:
                accounts.update_agent(
                    agent,
                    teams=list(data["teams"]),
                    skills=list(data["skills"]),
                    name=data["name"],
                    role=data["role"],
                    tier=data["tier"],
                    languages=languages,
                    capacity=data["capacity"],
                    is_active=data["is_active"],
                )
            messages.success(request, f"Saved {agent.name}.")
            return redirect("agent:admin-section", section="agents")
        except DomainError as exc:
            messages.error(request, exc.message)
    rows = [
        [
            a.name,
            a.email,
            a.get_role_display(),
            a.get_tier_display(),
            ", ".join(t.name for t in a.teams.all()),
            a.is_active,
            a.pk,
        ]
        for a in User.objects.prefetch_related("teams").order_by("name")
    ]
    return render(
        request,
        "agent/admin.html",
        {
            "sections": _nav(request),
            "section": "agents",
            "title": "Agents",
            "columns": ["name", "email", "role", "tier", "teams", "active"],
            "rows": rows,
            "form": form,
            "editing": agent,
        },
    )
