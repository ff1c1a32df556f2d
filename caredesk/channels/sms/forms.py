"""The workspace admin's form for a Twilio account."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils.text import slugify

from caredesk.accounts.models import Team
from caredesk.channels.sms.models import SmsAccount
from caredesk.core.errors import ValidationFailed
from caredesk.customers.services import normalize_phone


class SmsAccountForm(forms.ModelForm):
    team = forms.ModelChoiceField(
        queryset=Team.objects.order_by("name"),
        required=False,
        empty_label="No team (routing decides)",
        help_text="New SMS tickets on this number go to this team.",
    )
    auth_token = forms.CharField(
        required=False,
        widget=forms.PasswordInput,
        help_text="From the Twilio console. Stored encrypted and never shown again; blank keeps "
        "the current one.",
    )

    class Meta:
        model = SmsAccount
        fields = [
            "name",
            "account_sid",
            "auth_token",
            "phone_number",
            "messaging_service_sid",
            "team",
            "help_text",
            "active",
        ]
        labels = {
            "account_sid": "Account SID",
            "messaging_service_sid": "Messaging Service SID",
            "help_text": "Answer to HELP",
        }
        help_texts = {
            "account_sid": "Starts with AC, from the Twilio console.",
            "phone_number": "The Twilio number customers text, in E.164 (+14155550100).",
            "messaging_service_sid": "Optional (starts with MG): send through a Messaging "
            "Service instead of the number.",
            "help_text": "Texted back when a customer sends HELP. Blank: a short default.",
        }

    def clean_account_sid(self) -> str:
        sid = self.cleaned_data["account_sid"].strip()
        if not re.fullmatch(r"AC[0-9a-fA-F]{32}", sid):
            raise forms.ValidationError("An account SID is AC followed by 32 hexadecimal digits.")
        return sid

    def clean_messaging_service_sid(self) -> str:
        sid = (self.cleaned_data.get("messaging_service_sid") or "").strip()
        if sid and not re.fullmatch(r"MG[0-9a-fA-F]{32}", sid):
            raise forms.ValidationError(
                "A Messaging Service SID is MG followed by 32 hexadecimal digits."
            )
        return sid

    def clean_phone_number(self) -> str:
        value = self.cleaned_data["phone_number"]
        try:
            number = normalize_phone(value)
        except ValidationFailed as exc:
            raise forms.ValidationError(
                f"{value!r} is not a phone number; write it in E.164, like +14155550100."
            ) from exc
        if not value.strip().startswith("+"):
            raise forms.ValidationError(
                f"Write the number in E.164, with its country code: {number}"
            )
        return number

    def clean_auth_token(self) -> str:
        token = (self.cleaned_data.get("auth_token") or "").strip()
        token = token or (self.instance.auth_token if self.instance.pk else "")
        if not token:
            raise forms.ValidationError("The auth token is needed to check Twilio's signatures.")
        return token

    def save(self, commit: bool = True) -> Any:
        account = super().save(commit=False)
        if not account.slug:
            base = slugify(account.name)[:40] or "twilio"
            slug, n = base, 1
            while SmsAccount.objects.filter(slug=slug).exclude(pk=account.pk).exists():
                n += 1
                slug = f"{base}-{n}"
            account.slug = slug
        if commit:
            account.save()
        return account
