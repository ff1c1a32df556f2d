"""Twilio's request signature (X-Twilio-Signature): HMAC-SHA1, keyed with the account's auth
token, over the full webhook URL followed by every POST parameter as name then value, sorted
by name; base64-encoded. Implemented here so the base install needs no Twilio SDK."""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable


def compute(auth_token: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    # A name sent twice contributes each of its values, in sorted order, as the SDKs do.
    signed = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), signed.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def is_valid(auth_token: str, url: str, params: Iterable[tuple[str, str]], signature: str) -> bool:
    if not auth_token or not signature:
        return False
    return hmac.compare_digest(compute(auth_token, url, list(params)), signature)
