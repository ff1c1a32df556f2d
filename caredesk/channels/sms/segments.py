"""How many SMS segments a text takes: what the carrier bills and the customer's phone joins.

GSM-7 texts take 160 characters in one segment, 153 per segment when split (the rest carries the
joining header); the characters of the GSM-7 extension table ({ } [ ] ~ \\ | ^ €, form feed)
take two. One character outside GSM-7 makes the whole text UCS-2: 70 in one segment, 67 each when
split, and a character outside the Basic Multilingual Plane (most emoji) takes two.
The same rules are written in agent/static/agent/sms_segments.js for the composer's counter.
"""

from __future__ import annotations

from dataclasses import dataclass

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


@dataclass(frozen=True)
class SegmentCount:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int
    per_segment: int  # the limit that applies to this text (single or split)


def count_segments(text: str) -> SegmentCount:
    if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text):
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, split, encoding = 160, 153, "GSM-7"
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, split, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SegmentCount(encoding, units, 1 if units else 0, single)
    return SegmentCount(encoding, units, -(-units // split), split)
