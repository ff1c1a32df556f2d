"""Parse raw RFC 5322 mail with the standard library (policy.default), tolerating broken input:
wrong or unknown charsets, missing headers, broken MIME, huge headers, deep nesting."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from email import policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parseaddr


class _HeaderCachingPolicy(EmailPolicy):
    """policy.default, remembering parsed headers. The standard library parses a header again each
    time it is read (a part's Content-Type is read five times per message) and most values recur
    from one mail to the next ("text/plain; charset=utf-8", "7bit", a sender's From), so parsed
    values are kept per process; a parsed header depends only on its name and raw value."""

    def header_fetch_parse(self, name: str, value: str) -> str:
        if hasattr(value, "name") or len(value) > MAX_CACHED_HEADER:
            return super().header_fetch_parse(name, value)  # type: ignore[no-any-return]
        return _parsed_header(name, value)


MAX_CACHED_HEADER = 300


@functools.lru_cache(maxsize=4096)
def _parsed_header(name: str, value: str) -> str:
    return policy.default.header_fetch_parse(name, value)  # type: ignore[no-any-return]


PARSE_POLICY = _HeaderCachingPolicy()
MAX_PARTS = 200
MAX_DEPTH = 20
TICKET_TAG = re.compile(r"\[#(\d{1,12})\]")
MSGID = re.compile(r"<[^<>\s]{1,250}>")
BRACKETED_ADDRESS = re.compile(r"<\s*([^<>\s@]+@[^<>\s@]+)\s*>")
ADDRESS_LIKE = re.compile(r"[^\s<>@\"'(),;:]+@[^\s<>@\"'(),;:]+\.[^\s<>@\"'(),;:]+")


@dataclass
class ParsedAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""
    inline: bool = False


@dataclass
class ParsedEmail:
    message_id: str
    subject: str
    from_address: str
    from_name: str
    to: list[str]
    cc: list[tuple[str, str]]
    in_reply_to: list[str]
    references: list[str]
    text: str
    html: str
    attachments: list[ParsedAttachment] = field(default_factory=list)
    auto_submitted: bool = False
    bulk: bool = False
    bounce: bool = False
    bounced_message_id: str = ""
    bounce_status: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    # An address shown in the From display name that is not the sender's ("alice@example.com
    # <bob@example.com>" is from bob): a spoofing sign the agent is warned about.
    display_name_address: str = ""

    @property
    def ticket_hint(self) -> int | None:
        match = TICKET_TAG.search(self.subject)
        return int(match.group(1)) if match else None


def _header(msg: Message, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # a header the parser cannot decode still must not stop the mail
        raw = msg.get_all(name, failobj=[]) if hasattr(msg, "get_all") else []
        value = raw[0] if raw else ""
    return " ".join(str(value or "").split())[:2000]


def _decode(part: Message) -> str:
    try:
        content = part.get_content()  # type: ignore[attr-defined]
        if isinstance(content, str):
            return content
        if isinstance(content, bytes):
            return content.decode("utf-8", errors="replace")
    except Exception:  # noqa: S110 - unknown charset or broken encoding: decode by hand below
        pass
    payload = part.get_payload(decode=True) or b""
    if not isinstance(payload, bytes | bytearray):
        return str(payload)
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def _raw_header(msg: Message, name: str) -> str:
    """A header's value as it came, unfolded (encoded words not decoded)."""
    for key, value in msg.raw_items() if hasattr(msg, "raw_items") else msg.items():
        if key.lower() == name.lower():
            return " ".join(str(value).split())[:2000]
    return ""


def _decoded_words(value: str) -> str:
    try:
        return str(make_header(decode_header(value)))
    except Exception:  # a broken encoded word: the text as it came
        return value


def _sender(msg: Message, name: str) -> tuple[str, str]:
    """The display name and address of a From (or Sender) header. The address in angle brackets
    is the sender: parseaddr, and policy.default too, take an unquoted display name that is itself
    an address ("alice@example.com <bob@example.com>") for the sender, and replies would go to
    the wrong person."""
    display, address = parseaddr(_header(msg, name))
    raw = _raw_header(msg, name)
    bracketed = BRACKETED_ADDRESS.findall(raw)
    if bracketed and address.lower() not in {b.lower() for b in bracketed}:
        address = bracketed[0]
        display = _decoded_words(raw[: raw.find("<")]).strip().strip('"').strip()
    return display, address


def _msgids(value: str) -> list[str]:
    return MSGID.findall(value or "")[:100]


def _walk(msg: Message, depth: int = 0):  # type: ignore[no-untyped-def]
    if depth > MAX_DEPTH:
        return
    yield msg
    # A forwarded message or a delivery report is one part, not more body text.
    if msg.is_multipart() and not msg.get_content_type().startswith("message/"):
        payload = msg.get_payload()
        if isinstance(payload, list):
            for sub in payload[:MAX_PARTS]:
                if isinstance(sub, Message):
                    yield from _walk(sub, depth + 1)


def parse(raw: bytes) -> ParsedEmail:
    msg: EmailMessage = BytesParser(policy=PARSE_POLICY).parsebytes(raw)  # type: ignore[assignment]
    from_name, from_address = _sender(msg, "From")
    if not from_address:
        from_name, from_address = _sender(msg, "Sender" if msg.get("Sender") else "Return-Path")
    to = [
        addr.lower()
        for _, addr in getaddresses([_header(msg, "To"), _header(msg, "Delivered-To")])
        if addr
    ]
    cc = [(name, addr) for name, addr in getaddresses([_header(msg, "Cc")]) if addr]
    text_parts: list[str] = []
    html_parts: list[str] = []
    attachments: list[ParsedAttachment] = []
    bounce_status = ""
    bounced_id = ""
    for part in _walk(msg):
        ctype = part.get_content_type()
        if ctype == "message/delivery-status":
            blocks = part.get_payload() if part.is_multipart() else []
            statuses = [
                str(b.get("Status", ""))
                for b in blocks
                if isinstance(b, Message) and b.get("Status")
            ]
            if not statuses:
                found = re.search(r"^Status:\s*([0-9.]+)", _decode(part), re.M)
                statuses = [found.group(1)] if found else []
            bounce_status = statuses[0] if statuses else "5.0.0"
            continue
        if ctype == "message/rfc822":
            inner = part.get_payload()
            inner_msg = inner[0] if isinstance(inner, list) and inner else None
            data = inner_msg.as_bytes() if isinstance(inner_msg, Message) else b""
            attachments.append(
                ParsedAttachment(
                    filename=(part.get_filename() or "forwarded-message.eml"),
                    content_type=ctype,
                    content=data,
                )
            )
            continue
        if part.is_multipart():
            continue
        disposition = (part.get_content_disposition() or "").lower()
        filename = ""
        try:
            filename = part.get_filename() or ""
        except Exception:
            filename = "attachment"
        if ctype in ("message/rfc822-headers", "text/rfc822-headers"):
            found = re.search(r"^Message-ID:\s*(<[^>]+>)", _decode(part), re.M | re.I)
            bounced_id = found.group(1) if found else bounced_id
            continue
        if ctype == "text/plain" and disposition != "attachment" and not filename:
            text_parts.append(_decode(part))
        elif ctype == "text/html" and disposition != "attachment" and not filename:
            html_parts.append(_decode(part))
        else:
            payload = part.get_payload(decode=True)
            if not isinstance(payload, bytes | bytearray):
                payload = str(part.get_payload()).encode("utf-8", errors="replace")
            content_id = (_header(part, "Content-ID") or "").strip("<> ")
            if not filename:
                extension = {"text/calendar": ".ics", "message/rfc822": ".eml"}.get(ctype, ".bin")
                filename = f"part-{len(attachments) + 1}{extension}"
            attachments.append(
                ParsedAttachment(
                    filename=filename,
                    content_type=ctype,
                    content=bytes(payload),
                    content_id=content_id,
                    inline=bool(content_id) and disposition != "attachment",
                )
            )
    auto = _header(msg, "Auto-Submitted").lower()
    precedence = _header(msg, "Precedence").lower()
    sender = (from_address or "").lower()
    report = msg.get_content_type() == "multipart/report"
    bounce = report or sender.startswith(("mailer-daemon@", "postmaster@"))
    if bounce and not bounced_id:
        # Some servers quote the original message instead of attaching its headers.
        quoted = re.search(r"Message-ID:\s*(<[^>]+>)", "\n".join(text_parts), re.I)
        bounced_id = quoted.group(1) if quoted else ""
    shown = [a for a in ADDRESS_LIKE.findall(from_name) if a.lower() != sender]
    return ParsedEmail(
        message_id=(_msgids(_header(msg, "Message-ID")) or [""])[0],
        subject=_header(msg, "Subject")[:255],
        from_address=sender,
        from_name=from_name[:200],
        to=to,
        cc=cc[:50],
        in_reply_to=_msgids(_header(msg, "In-Reply-To")),
        references=_msgids(_header(msg, "References")),
        text="\n".join(text_parts),
        html="\n".join(html_parts),
        attachments=attachments,
        auto_submitted=(bool(auto) and auto != "no")
        or bool(_header(msg, "X-Autoreply") or _header(msg, "X-Autorespond")),
        bulk=precedence in ("bulk", "junk", "list"),
        bounce=bounce,
        bounced_message_id=bounced_id,
        bounce_status=bounce_status,
        headers={"date": _header(msg, "Date"), "to": _header(msg, "To")[:500]},
        display_name_address=shown[0][:254] if shown else "",
    )
