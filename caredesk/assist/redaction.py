"""PII redaction applied at ingestion, before anything is written: card numbers never reach disk.

- Payment card numbers: 13-19 digits passing the Luhn check, in groups separated by spaces,
  dashes or (in HTML) tags and character references; a CVV named next to one.
- Bank accounts: IBANs passing the ISO 13616 mod-97 check.
- National ids, per country listed in settings.CAREDESK_PII_NATIONAL_IDS:
  us (SSN), uk (National Insurance number), es (DNI/NIE with check letter),
  nl (BSN, 11-proof), fr (NIR with its mod-97 key).
Checksums keep order numbers, phone numbers and dates from being redacted by mistake.

`redact_inbound` applies it to an inbound message (every field, text attachments) once, at the
entry of the inbound pipeline; `redact_raw` to the raw record (mail as decoded MIME, re-encoded
as it came). docs/security.md#card-numbers says what is covered and what is not.
"""

from __future__ import annotations

import base64
import contextlib
import os
import quopri
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from email.message import Message as EmailMessage

    from caredesk.tickets.services import InboundMessage

CARD_MASK = "[redacted card]"
CVV_MASK = "[redacted cvv]"
IBAN_PATTERN = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b")
IBAN_MASK = "[redacted bank account]"
ID_MASK = "[redacted id]"


# Luhn: every second digit from the right is doubled, and 9 taken off above 9.
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def luhn_valid(digits: str) -> bool:
    total = sum(map(int, digits[-1::-2])) + sum(_LUHN_DOUBLED[int(ch)] for ch in digits[-2::-2])
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    compact = candidate.replace(" ", "").upper()
    if not 15 <= len(compact) <= 34:
        return False
    rearranged = compact[4:] + compact[:4]
    numeric = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(numeric) % 97 == 1


# A digit, also written as an HTML character reference (&#52; is "4").
_DIGIT = r"(?:\d|&\#0*(?:4[89]|5[0-7]);|&\#[xX]0*3[0-9];)"
# What may stand between the digit groups of one number: spaces, dashes, no-break spaces, and
# HTML tags, so that `<b>4111</b> 1111 ...` is one number (a tag never splits a number for the
# reader, and the search text derived from the HTML would join the groups).
_SEPARATOR = r"(?:[\s\-]|&nbsp;|&\#0*160;|&\#[xX]0*[aA]0;|<[^<>]{0,200}>)"
_DIGIT_RUN = re.compile(rf"(?<!\d){_DIGIT}+(?:{_SEPARATOR}{{1,8}}{_DIGIT}+)*(?!\d)")
# The same for text with no markup or character reference in it (most text), which is quicker.
_PLAIN_DIGIT_RUN = re.compile(r"(?<!\d)\d+(?:[\s\-]{1,8}\d+)*(?!\d)")
_DIGIT_GROUP = re.compile(rf"{_DIGIT}+")
_TAG = re.compile(r"<[^<>]{0,200}>")
_ENTITY_DIGIT = re.compile(r"&#[xX]?0*([0-9a-fA-F]+);")
# A security code named as such, and the card mask near it (within CVV_REACH characters).
_CVV = re.compile(
    r"\b(?:cvv2?|cvc2?|cvn|cid|csc|security\s+code|card\s+code|verification\s+(?:code|value))"
    r"(?:[^\d<]|<[^<>]{0,200}>){0,20}?(?<!\d)(\d{3,4})(?!\d)",
    re.IGNORECASE,
)
CVV_REACH = 120


def _group_digits(group: str) -> str:
    if "&" not in group:
        return group
    return _ENTITY_DIGIT.sub(
        lambda m: chr(int(m.group(1), 16 if m.group(0)[2] in "xX" else 10)), group
    )


def _card_end(digits: list[str], first: int) -> int | None:
    """The end (last group + 1) of the longest card number starting at group `first` of a run:
    13-19 digits passing the Luhn check, from groups of three or more digits, as cards are
    written (so a phone prefix before a card or a code after it does not hide it)."""
    best = None
    total = ""
    for last in range(first, len(digits)):
        if len(digits[last]) < 3:
            break
        total += digits[last]
        if len(total) > 19:
            break
        if len(total) >= 13 and luhn_valid(total):
            best = last + 1
    return best


def _card_spans(digits: list[str]) -> list[tuple[int, int]]:
    """The card numbers of a run of digit groups, as (first group, last group + 1), left to
    right; a group of three or four digits ending the run right after a card is its CVV."""
    whole = "".join(digits)
    if 13 <= len(whole) <= 19 and luhn_valid(whole):
        return [(0, len(digits))]
    spans = []
    first = 0
    while len(digits) > 1 and first < len(digits):
        end = _card_end(digits, first)
        if end is None:
            first += 1
            continue
        if end == len(digits) - 1 and len(digits[end]) in (3, 4):
            end += 1
        spans.append((first, end))
        first = end
    return spans


def _redact_run(run: str) -> str:
    groups = list(_DIGIT_GROUP.finditer(run))
    digits = [_group_digits(g.group(0)) for g in groups]
    if sum(len(d) for d in digits) < 13:
        return run
    pieces = []
    done = 0
    for first, end in _card_spans(digits):
        start, stop = groups[first].start(), groups[end - 1].end()
        # The tags inside the number stay, so the HTML keeps its shape.
        pieces += [run[done:start], CARD_MASK, *_TAG.findall(run[start:stop])]
        done = stop
    pieces.append(run[done:])
    return "".join(pieces)


def _redact_match(match: re.Match[str]) -> str:
    run = match.group(0)
    return run if len(run) < 13 else _redact_run(run)


def _redact_cards(text: str) -> str:
    if not any(ch.isdigit() for ch in text):
        return text
    runs = _DIGIT_RUN if "<" in text or "&" in text else _PLAIN_DIGIT_RUN
    text = runs.sub(_redact_match, text)
    if CARD_MASK not in text:
        return text
    masks = [m.start() for m in re.finditer(re.escape(CARD_MASK), text)]

    def cvv(match: re.Match[str]) -> str:
        near = any(match.start() - CVV_REACH <= at <= match.end() + CVV_REACH for at in masks)
        if not near:
            return match.group(0)
        head = match.group(0)[: match.start(1) - match.start()]
        return head + CVV_MASK

    return _CVV.sub(cvv, text)


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


def redact_cut(text: str, limit: int) -> str:
    """Text redacted, then cut to at most limit characters: cutting first could leave the first
    digits of a card, which no longer pass its check."""
    return redact(text)[:limit]


def redact_bytes(payload: bytes) -> bytes:
    """Redact a raw payload byte-for-byte compatibly: UTF-8 text is read as such (so a no-break
    space between digit groups counts), and any other byte round-trips unchanged."""
    if not payload:
        return payload
    text = payload.decode("utf-8", errors="surrogateescape")
    clean = redact(text)
    return payload if clean == text else clean.encode("utf-8", errors="surrogateescape")


# --- attachments, raw mail and inbound messages -------------------------------------------

# Attachments read as text (and so redacted); binary ones (images, PDFs, archives, office
# files) are stored as received: see docs/security.md.
TEXT_ATTACHMENT_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/csv",
        "application/x-csv",
        "application/ld+json",
        "message/rfc822",
        "message/delivery-status",
        "message/disposition-notification",
    }
)
TEXT_ATTACHMENT_EXTENSIONS = frozenset(
    {".txt", ".text", ".csv", ".tsv", ".log", ".json", ".xml", ".html", ".htm", ".md", ".eml",
     ".ics", ".vcf", ".ini", ".yaml", ".yml"}
)  # fmt: skip


def is_text_attachment(content_type: str, filename: str) -> bool:
    ctype = (content_type or "").split(";", 1)[0].strip().lower()
    if ctype.startswith("text/") or ctype in TEXT_ATTACHMENT_TYPES:
        return True
    extension = os.path.splitext(filename or "")[1].lower()
    return extension in TEXT_ATTACHMENT_EXTENSIONS


def redact_attachment(filename: str, content_type: str, content: bytes) -> tuple[str, bytes]:
    """An attachment's name, and its bytes redacted when it is text (a forwarded mail is redacted
    as MIME, so its base64 and quoted-printable parts are read decoded)."""
    filename = redact(filename)
    if not content or not is_text_attachment(content_type, filename):
        return filename, content
    if (content_type or "").lower().startswith("message/") or filename.lower().endswith(".eml"):
        return filename, redact_mime(content)
    return filename, redact_bytes(content)


_ENCODED_MIME = re.compile(rb"base64|quoted-printable|=\?", re.IGNORECASE)


def redact_mime(raw: bytes) -> bytes:
    """A raw mail with every card number replaced, in the structure it came in: each text part is
    decoded (base64, quoted-printable, its charset), redacted and encoded back the same way, and
    each header is read decoded (RFC 2047); binary parts are kept as they are. Mail without
    encoded parts or headers is redacted on its bytes alone, which leaves it byte-identical
    unless it held a number."""
    if not raw:
        return raw
    if _ENCODED_MIME.search(raw):
        # Broken MIME is still redacted by the byte-level pass below.
        with contextlib.suppress(Exception):
            raw = _redact_mime_parts(raw)
    return _redact_mail_bytes(raw)


# Message ids and angle addresses (`<id@host>`), and MIME boundaries: identifiers that must
# survive unchanged (a Python boundary carries 19 random digits, which pass Luhn one time in ten).
_ANGLE_ID = rb"<[^<>\s]{1,250}@[^<>\s]{1,250}>"
_BOUNDARY_PARAM = re.compile(rb'boundary\s*=\s*"?([^";\r\n]{1,200})"?', re.IGNORECASE)


def _redact_mail_bytes(raw: bytes) -> bytes:
    """The byte-level pass over a mail, leaving its identifiers as they are."""
    boundaries = sorted({m.group(1) for m in _BOUNDARY_PARAM.finditer(raw)}, key=len, reverse=True)
    kept = re.compile(b"(" + b"|".join([_ANGLE_ID, *map(re.escape, boundaries)]) + b")")
    pieces = kept.split(raw)
    # split() with one group alternates the text between identifiers and the identifiers.
    return b"".join(
        redact_bytes(piece) if index % 2 == 0 else piece for index, piece in enumerate(pieces)
    )


def _redact_mime_parts(raw: bytes) -> bytes:
    from email import message_from_bytes
    from email.policy import compat32

    linesep = "\r\n" if b"\r\n" in raw[:4096] else "\n"
    msg = message_from_bytes(raw, policy=compat32.clone(linesep=linesep))
    changed = False
    for part in msg.walk():
        changed = _redact_headers(part) or changed
        if part.is_multipart():
            continue
        changed = _redact_part_body(part) or changed
    return msg.as_bytes() if changed else raw


def _redact_headers(part: EmailMessage) -> bool:
    from email.header import decode_header, make_header

    items = part.items()
    clean_items = []
    changed = False
    for name, value in items:
        text = str(value)
        if "=?" in text:
            try:
                decoded = str(make_header(decode_header(text)))
            except Exception:  # an undecodable header is redacted on its bytes later
                decoded = text
            clean = redact(decoded)
            if clean != decoded:
                text = _encoded_header(name, decoded)
                changed = True
        clean_items.append((name, text))
    if changed:
        for name in {name for name, _ in items}:
            del part[name]
        for name, text in clean_items:
            part[name] = text
    return changed


# Headers holding addresses: only their display names are text (and encoded words).
_ADDRESS_HEADERS = frozenset(
    {"from", "to", "cc", "bcc", "reply-to", "sender", "resent-from", "resent-to", "resent-cc"}
)


def _encoded_header(name: str, decoded: str) -> str:
    """A decoded header value redacted and encoded back (RFC 2047 where it is not ASCII); in an
    address header only the display names are redacted, the addresses are kept."""
    from email.header import Header
    from email.utils import formataddr, getaddresses

    if name.lower() in _ADDRESS_HEADERS:
        with contextlib.suppress(Exception):  # an unparseable list is encoded as plain text
            return ", ".join(
                formataddr((redact(display), address), charset="utf-8")
                for display, address in getaddresses([decoded])
            )
    clean = redact(decoded)
    return clean if clean.isascii() else Header(clean, "utf-8").encode()


def _redact_part_body(part: EmailMessage) -> bool:
    content_type = part.get_content_type()
    filename = part.get_filename() or ""
    if not is_text_attachment(content_type, filename):
        return False
    encoding = str(part.get("Content-Transfer-Encoding", "")).strip().lower()
    if encoding not in ("base64", "quoted-printable"):
        return False  # 7bit and 8bit text is redacted on its bytes
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload:
        return False
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, errors="surrogateescape")
    except LookupError:
        charset = "latin-1"
        text = payload.decode(charset)
    clean = redact(text)
    if clean == text:
        return False
    try:
        body = clean.encode(charset, errors="surrogateescape")
    except UnicodeError:
        body = clean.encode("utf-8", errors="surrogateescape")
    original = part.get_payload()
    linesep = "\r\n" if isinstance(original, str) and "\r\n" in original else "\n"
    if encoding == "base64":
        encoded = base64.encodebytes(body).decode("ascii")
    else:
        encoded = quopri.encodestring(body).decode("ascii")
    if linesep == "\r\n":
        encoded = encoded.replace("\r\n", "\n").replace("\n", "\r\n")
    part.set_payload(encoded)
    return True


def redact_raw(channel: str, payload: bytes) -> bytes:
    """An inbound payload as it is kept: mail as MIME (`redact_mime`), anything else (JSON from
    chat, webhooks, forms) on its bytes."""
    if channel == "email":
        return redact_mime(payload)
    return redact_bytes(payload)


# Metadata keys whose values are identifiers, matched later as they came (a chat's client id
# pairs a visitor's line with its echo): kept, as message ids and addresses are.
IDENTIFIER_KEYS = frozenset(
    {"message_id", "client_id", "chat_session", "chat_widget", "external_id", "to", "recipients"}
)


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {
            key: item if key in IDENTIFIER_KEYS else _redact_value(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_redact_value(item) for item in value]
    return value


def redact_inbound(inbound: InboundMessage) -> InboundMessage:
    """Redact an inbound message in place before anything of it is written or looked up: subject,
    bodies, the sender's and CC's names, the thread key (built from the subject), tags, metadata,
    attachment names and text attachments. Its raw payload is redacted where it is stored
    (`tickets.services.store_raw`, with `redact_raw`). Done once per message: each entry of the
    inbound pipeline calls it, and a second call returns at once.

    Identifiers are kept as they are: the sender's address or number (needed to answer) and
    message ids and references (replies are matched on them)."""
    if inbound.redacted:
        return inbound
    inbound.subject = redact(inbound.subject)
    inbound.body_text = redact(inbound.body_text)
    inbound.body_html = redact(inbound.body_html)
    inbound.thread_key = redact(inbound.thread_key)
    inbound.sender.name = redact(inbound.sender.name)
    for cc in inbound.cc:
        cc.name = redact(cc.name)
    inbound.tags = [redact(tag) for tag in inbound.tags]
    inbound.metadata = _redact_value(inbound.metadata)
    for upload in inbound.attachments:
        upload.filename, upload.content = redact_attachment(
            upload.filename, upload.content_type, upload.content
        )
    inbound.redacted = True
    return inbound
