"""Survey pages: the public answer page (scanner-safe), Admin → CSAT surveys, the CSAT report.
Thin: every rule is in `caredesk.surveys.services`."""

from __future__ import annotations

from datetime import timedelta

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from caredesk.core.errors import DomainError
from caredesk.core.ratelimit import hit_rate_limit
from caredesk.portal.views import client_ip
from caredesk.surveys import services
from caredesk.surveys.forms import AnswerForm, SurveySettingsForm
from caredesk.surveys.models import SurveySettings


def _score(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and int(text) in services.SCORES else None


@never_cache
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows the rating the link carries, pre-selected, and records nothing (mail scanners
    fetch every link); only this page's own POST records the answer."""
    try:
        hit_rate_limit("survey-ip", client_ip(request), limit=60, window_seconds=600)
        survey = services.survey_for_link(token)
    except DomainError as exc:
        return render(request, "surveys/invalid.html", {"message": exc.message}, status=exc.status)
    config = services.current_settings()
    follow_up = config.follow_up_list
    status = 200
    if request.method == "POST":
        form = AnswerForm(request.POST, follow_up=follow_up)
        if form.is_valid():
            try:
                services.record_answer(
                    survey,
                    form.cleaned_data["score"],
                    reason=form.cleaned_data["reason"],
                    comment=form.cleaned_data["comment"],
                )
            except DomainError as exc:
                form.add_error(None, exc.message)
            else:
                return render(request, "surveys/thanks.html", {"ticket": survey.ticket})
        status = 422
    else:
        chosen = _score(request.GET.get("score")) or survey.score
        form = AnswerForm(
            initial={"score": chosen, "reason": survey.reason, "comment": survey.comment},
            follow_up=follow_up,
        )
    return render(
        request,
        "surveys/answer.html",
        {"form": form, "survey": survey, "question": config.question, "answered": survey.score},
        status=status,
    )


def settings_section(request: HttpRequest, nav: list[tuple[str, str]]) -> HttpResponse:
    """Admin → CSAT surveys (the caller checked that the user is an admin)."""
    instance = SurveySettings.objects.filter(pk=1).first() or SurveySettings(pk=1)
    form = SurveySettingsForm(request.POST or None, instance=instance)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            form.save()
            messages.success(request, "Saved the survey settings.")
            return redirect("agent:admin-section", section="surveys")
        messages.error(request, "Not saved: see the errors below.")
        status = 422
    return render(
        request,
        "surveys/admin_settings.html",
        {"sections": nav, "section": "surveys", "title": "CSAT surveys", "form": form},
        status=status,
    )


class ReportRange(forms.Form):
    start = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))


def report(request: HttpRequest, nav: list[tuple[str, str]]) -> HttpResponse:
    """Admin → CSAT report: CSAT % and response rate per channel and per agent, for team leads
    and admins only (the caller checked that the user is a signed-in agent)."""
    if not getattr(request.user, "is_lead", False):
        raise PermissionDenied("Only team leads and admins can see the survey numbers.")
    today = timezone.now().date()
    initial = {"start": today - timedelta(days=29), "end": today}
    form = ReportRange(request.GET if "start" in request.GET else None, initial=initial)
    numbers = None
    status = 200
    if form.is_bound and not form.is_valid():
        status = 400
    else:
        start = form.cleaned_data["start"] if form.is_bound else initial["start"]
        end = form.cleaned_data["end"] if form.is_bound else initial["end"]
        try:
            numbers = services.report(start, end)
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
    return render(
        request,
        "surveys/report.html",
        {"sections": nav, "section": "csat", "form": form, "report": numbers},
        status=status,
    )
