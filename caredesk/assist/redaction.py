"""PII redaction applied at ingestion, before anything is written: card numbers never reach disk.

Payment card numbers are redacted when they pass the Luhn check (13-19 digits, spaces or dashes
allowed between groups).
"""

from __future__ import annotations

import re

CARD_PATTERN = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
CARD_MASK = "[redacted card]"


def luhn_valid(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _redact_cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return CARD_MASK
        return match.group(0)

    return CARD_PATTERN.sub(replace, text)


def redact(text: str) -> str:
    """Text with payment card numbers (and other configured PII) masked."""
    if not text:
        return text
    return _redact_cards(text)


def redact_bytes(payload: bytes) -> bytes:
    """Redact a raw payload byte-for-byte compatibly (latin-1 round-trips every byte)."""
    if not payload:
        return payload
    return redact(payload.decode("latin-1")).encode("latin-1")
