"""The survey settings form (Admin → CSAT surveys) and the public answer form."""

from __future__ import annotations

from typing import Any

from django import forms

from caredesk.surveys.models import SurveySettings
from caredesk.surveys.services import SCORES
from caredesk.tickets.models import Channel

MAX_CHOICES = 10


class SurveySettingsForm(forms.ModelForm):
    delay_minutes = forms.IntegerField(
        min_value=0,
        max_value=60 * 24 * 14,
        label="Delay (minutes)",
        help_text="How long after a ticket is solved the survey is sent (60 = one hour).",
    )
    once_per_days = forms.IntegerField(
        min_value=0,
        max_value=365,
        label="At most once per (days)",
        help_text="A customer is asked at most once in this many days (0: after every ticket).",
    )
    question = forms.CharField(max_length=300, label="Question")
    follow_up_choices = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        label="“What went wrong?” choices",
        help_text="One per line; offered to customers who rate 1 or 2.",
        error_messages={"required": "Enter at least one choice, one per line."},
    )
    channels = forms.MultipleChoiceField(
        choices=Channel.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
        label="Send for tickets from",
        help_text="Live chat rates in the open chat; other channels by email.",
    )

    class Meta:
        model = SurveySettings
        fields = [
            "enabled",
            "delay_minutes",
            "once_per_days",
            "question",
            "follow_up_choices",
            "channels",
        ]

    def clean_follow_up_choices(self) -> str:
        lines = [line.strip() for line in self.cleaned_data["follow_up_choices"].splitlines()]
        lines = [line for line in lines if line]
        if not lines:
            raise forms.ValidationError("Enter at least one choice, one per line.")
        if len(lines) > MAX_CHOICES:
            raise forms.ValidationError(f"At most {MAX_CHOICES} choices.")
        long = [line for line in lines if len(line) > 200]
        if long:
            raise forms.ValidationError(f"“{long[0][:40]}…” is longer than 200 characters.")
        if len(set(lines)) != len(lines):
            raise forms.ValidationError("Each choice may appear only once.")
        return "\n".join(lines)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("enabled") and not cleaned.get("channels"):
            self.add_error("channels", "Choose at least one channel, or turn surveys off.")
        return cleaned


class AnswerForm(forms.Form):
    score = forms.TypedChoiceField(
        choices=[(score, f"{score} – {label}") for score, label in SCORES.items()],
        coerce=int,
        widget=forms.RadioSelect,
        label="Your rating",
        error_messages={"required": "Choose a rating from 1 to 5."},
    )
    reason = forms.ChoiceField(required=False, label="What went wrong?")
    comment = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 4}),
        label="Anything else you want to tell us?",
    )

    def __init__(self, *args: Any, follow_up: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].choices = [("", "—"), *[(c, c) for c in follow_up]]
