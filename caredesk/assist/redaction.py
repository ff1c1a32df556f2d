"""PII redaction applied at ingestion, before anything is written: card numbers never reach disk.

- Payment card numbers: 13-19 digits (spaces/dashes between groups) passing the Luhn check.
- Bank accounts: IBANs passing the ISO 13616 mod-97 check.
- National ids, per country listed in settings.CAREDESK_PII_NATIONAL_IDS:
  us (SSN), uk (National Insurance number), es (DNI/NIE with check letter),
  nl (BSN, 11-proof), fr (NIR with its mod-97 key).
Checksums keep order numbers, phone numbers and dates from being redacted by mistake.
"""

from __future__ import annotations

import re
from collections.abc import Callable

CARD_PATTERN = re.compile(r"(?<![\d])(?:\d[ -]?){12,18}\d(?![\d])")
CARD_MASK = "[redacted card]"
IBAN_PATTERN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
IBAN_MASK = "[redacted bank account]"
ID_MASK = "[redacted id]"


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


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


def _redact_cards(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = re.sub(r"[ -]", "", match.group(0))
        if 13 <= len(digits) <= 19 and luhn_valid(digits):
            return CARD_MASK
        return match.group(0)

    return CARD_PATTERN.sub(replace, text)


def _redact_ibans(text: str) -> str:
    return IBAN_PATTERN.sub(lambda m: IBAN_MASK if iban_valid(m.group(0)) else m.group(0), text)


def _us_ssn(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        area, group, serial = match.group(1), match.group(2), match.group(3)
        if area in ("000", "666") or area.startswith("9") or group == "00" or serial == "0000":
            return match.group(0)
        return ID_MASK

    return re.sub(r"\b(\d{3})-(\d{2})-(\d{4})\b", replace, text)


def _uk_nino(text: str) -> str:
    return re.sub(
        r"\b(?!BG|GB|NK|KN|TN|NT|ZZ)[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b",
        ID_MASK,
        text,
    )


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def _es_dni(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        prefix, number, letter = match.group(1) or "", match.group(2), match.group(3).upper()
        value = int(str("XYZ".index(prefix.upper())) + number) if prefix else int(number)
        return ID_MASK if _DNI_LETTERS[value % 23] == letter else match.group(0)

    return re.sub(r"\b([XYZxyz])?(\d{7,8})-?([A-Za-z])\b", replace, text)


def _nl_bsn(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        digits = match.group(0)
        total = sum(int(d) * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - int(
            digits[8]
        )
        return ID_MASK if total % 11 == 0 and total != 0 else digits

    return re.sub(r"(?<!\d)\d{9}(?!\d)", replace, text)


def _fr_nir(text: str) -> str:
    def replace(match: re.Match[str]) -> str:
        compact = re.sub(r"\s", "", match.group(0))
        body, key = compact[:13], int(compact[13:])
        return ID_MASK if 97 - int(body) % 97 == key else match.group(0)

    return re.sub(r"\b[12]\s?\d{2}\s?\d{2}\s?\d{2}\s?\d{3}\s?\d{3}\s?\d{2}\b", replace, text)


NATIONAL_ID_REDACTORS: dict[str, Callable[[str], str]] = {
    "us": _us_ssn,
    "uk": _uk_nino,
    "es": _es_dni,
    "nl": _nl_bsn,
    "fr": _fr_nir,
}


def _national_id_redactors() -> list[Callable[[str], str]]:
    from django.conf import settings

    countries = getattr(settings, "CAREDESK_PII_NATIONAL_IDS", [])
    return [NATIONAL_ID_REDACTORS[c] for c in countries if c in NATIONAL_ID_REDACTORS]


def redact(text: str) -> str:
    """Text with payment cards, IBANs and the configured national ids masked."""
    if not text:
        return text
    # Ids first: their checksums are stricter than Luhn, which a long id can pass by chance.
    for redactor in _national_id_redactors():
        text = redactor(text)
    text = _redact_ibans(text)
    return _redact_cards(text)


def redact_bytes(payload: bytes) -> bytes:
    """Redact a raw payload byte-for-byte compatibly (latin-1 round-trips every byte)."""
    if not payload:
        return payload
    return redact(payload.decode("latin-1")).encode("latin-1")
