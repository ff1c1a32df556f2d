"""Admin pages in the workspace: teams, agents (roles, tiers, teams, skills), skills, tags and
custom fields. Admins only; agents never need the Django admin."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from caredesk.accounts import services as accounts
from caredesk.accounts.models import Role, Skill, Team, Tier, User
from caredesk.agent.views import agent_view
from caredesk.core.errors import DomainError
from caredesk.tickets.models import CustomField, Tag


class TeamForm(forms.ModelForm):
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
}


def _require_admin(request: HttpRequest) -> None:
    if not getattr(request.user, "is_admin", False):
        raise PermissionDenied("Only admins can change the configuration.")


@agent_view
def admin_home(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return redirect("agent:admin-section", section="agents")


@agent_view
def admin_section(request: HttpRequest, section: str, item_id: int | None = None) -> HttpResponse:
    _require_admin(request)
    if section == "agents":
        return _agents(request, item_id)
    config = SECTIONS.get(section)
    if config is None:
        raise PermissionDenied("Unknown section")
    model = config["model"]
    instance = get_object_or_404(model, pk=item_id) if item_id else None
    form = config["form"](request.POST or None, instance=instance)
    if request.method == "POST":
        if request.POST.get("delete") and instance is not None:
            if model is Tag:
                instance.delete()
                messages.success(request, "Deleted.")
            elif model is CustomField:
                CustomField.objects.filter(pk=instance.pk).update(active=False)
                messages.success(request, "Deactivated (values on tickets are kept).")
            return redirect("agent:admin-section", section=section)
        if form.is_valid():
            form.save()
            messages.success(request, "Saved.")
            return redirect("agent:admin-section", section=section)
    rows = [
        [getattr(obj, c) for c in config["columns"]] + [obj.pk] for obj in model.objects.all()[:500]
    ]
    return render(
        request,
        "agent/admin.html",
        {
            "sections": _nav(),
            "section": section,
            "title": config["title"],
            "columns": config["columns"],
            "rows": rows,
            "form": form,
            "editing": instance,
        },
    )


def _nav() -> list[tuple[str, str]]:
    return [("agents", "Agents")] + [(k, v["title"]) for k, v in SECTIONS.items()]


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
            "yes" if a.is_active else "no",
            a.pk,
        ]
        for a in User.objects.prefetch_related("teams").order_by("name")
    ]
    return render(
        request,
        "agent/admin.html",
        {
            "sections": _nav(),
            "section": "agents",
            "title": "Agents",
            "columns": ["name", "email", "role", "tier", "teams", "active"],
            "rows": rows,
            "form": form,
            "editing": agent,
        },
    )
