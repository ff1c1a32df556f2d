"""The local mail sink: outbound mail written as .eml files a person can read, instead of sent.

Used by `make run` (the demo data set loaded and no mail server configured) so agent replies,
acknowledgements and sign-in links can be read in the workspace ("Sent mail", admins) or in
CAREDESK_EMAIL_SINK_DIR with any mail reader. Setting: CAREDESK_EMAIL_SINK (docs/configuration.md).
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage as ParsedMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.mail import EmailMessage
from django.core.mail.backends.base import BaseEmailBackend

# Only names the sink wrote itself: no path can be named through the page.
FILE_NAME = re.compile(r"^\d{8}T\d{6}\d{6}Z-[0-9a-f]{32}\.eml$")


def sink_active() -> bool:
    """Whether outbound mail goes to the sink now (see CAREDESK_EMAIL_SINK)."""
    mode = settings.CAREDESK_EMAIL_SINK
    if mode in ("on", "1", "true", "yes"):
        return True
    if mode != "auto":
        return False
    from caredesk.operations.demo import is_loaded

    return is_loaded()


def sink_dir() -> Path:
    return Path(settings.CAREDESK_EMAIL_SINK_DIR)


class MailSinkBackend(BaseEmailBackend):
    """A Django email backend that writes each message to its own .eml file."""

    def __init__(self, directory: str | Path | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.directory = Path(directory) if directory else sink_dir()

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        self.directory.mkdir(parents=True, exist_ok=True)
        for message in email_messages:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            name = f"{stamp}-{uuid.uuid4().hex}.eml"
            partial = self.directory / f".{name}.part"
            partial.write_bytes(message.message().as_bytes())
            # A reader never sees half a file: the name appears only once it is complete.
            os.replace(partial, self.directory / name)
        return len(email_messages)


@dataclass
class SinkMail:
    name: str
    to: str
    subject: str
    sent_at: datetime
    message: ParsedMessage | None = None

    @property
    def text(self) -> str:
        if self.message is None:
            return ""
        body = self.message.get_body(preferencelist=("plain", "html"))
        return body.get_content() if body is not None else ""

    @property
    def headers(self) -> list[tuple[str, str]]:
        return [(k, str(v)) for k, v in self.message.items()] if self.message is not None else []


def _read(path: Path, *, full: bool) -> SinkMail:
    with path.open("rb") as handle:
        parser = BytesParser(policy=policy.default)
        parsed = parser.parse(handle, headersonly=not full)
    stamp = datetime.strptime(path.name[:22], "%Y%m%dT%H%M%S%fZ").replace(tzinfo=UTC)
    return SinkMail(
        name=path.name,
        to=str(parsed.get("To", "")),
        subject=str(parsed.get("Subject", "")),
        sent_at=stamp,
        message=parsed if full else None,  # type: ignore[arg-type]
    )


def sent_mails(limit: int = 200) -> list[SinkMail]:
    """The newest mails in the sink, newest first."""
    directory = sink_dir()
    if not directory.is_dir():
        return []
    names = sorted((n for n in os.listdir(directory) if FILE_NAME.match(n)), reverse=True)
    return [_read(directory / name, full=False) for name in names[:limit]]


def sent_mail(name: str) -> SinkMail | None:
    if not FILE_NAME.match(name):
        return None
    path = sink_dir() / name
    return _read(path, full=True) if path.is_file() else None
