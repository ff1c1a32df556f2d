"""Secrets at rest (mailbox passwords, API keys, webhook secrets), encrypted with Fernet.

The key comes from CAREDESK_ENCRYPTION_KEY (any string; a Fernet key is derived from it), else
from the SECRET_KEY. Values are stored as "fernet:<token>"; losing the key loses the secrets.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models

PREFIX = "fernet:"


def _fernet() -> Fernet:
    material = settings.CAREDESK_ENCRYPTION_KEY or settings.SECRET_KEY
    key = base64.urlsafe_b64encode(
        hashlib.sha256(("caredesk-secrets|" + material).encode()).digest()
    )
    return Fernet(key)


def encrypt(value: str) -> str:
    if not value:
        return ""
    return PREFIX + _fernet().encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored:
        return ""
    if not stored.startswith(PREFIX):
        raise ValueError("This secret is not encrypted; re-save it.")
    try:
        return _fernet().decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ValueError(
            "This secret cannot be decrypted with the configured key (CAREDESK_ENCRYPTION_KEY)."
        ) from exc


class EncryptedTextField(models.TextField):
    """A text field whose value is encrypted in the database and plain in Python."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        if value is None:
            return value
        return decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
