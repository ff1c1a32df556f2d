"""IMAP and POP3 polling of existing mailboxes (imap-tools / poplib). A message is taken once:
its remote id is recorded, processed IMAP mail is marked seen or moved, and a dropped connection
only means the next poll continues where this one stopped."""

from __future__ import annotations

import contextlib
import logging
import poplib

from django.db import IntegrityError
from django.utils import timezone
from imap_tools import AND, MailBox, MailBoxUnencrypted

from caredesk.channels.email.models import Mailbox, SeenRemoteMessage
from caredesk.channels.email.services import receive

logger = logging.getLogger("caredesk.email.poll")
BATCH = 200


def _remember(mailbox: Mailbox, key: str) -> bool:
    try:
        SeenRemoteMessage.objects.create(mailbox=mailbox, key=key[:255])
        return True
    except IntegrityError:
        return False


def poll_imap(mailbox: Mailbox) -> int:
    cls = MailBox if mailbox.use_ssl else MailBoxUnencrypted
    taken = 0
    with cls(mailbox.host, port=mailbox.port or (993 if mailbox.use_ssl else 143)).login(
        mailbox.username, mailbox.password, initial_folder=mailbox.folder
    ) as remote:
        validity = str(remote.folder.status(mailbox.folder).get("UIDVALIDITY", ""))
        for message in remote.fetch(AND(seen=False), mark_seen=False, bulk=True, limit=BATCH):
            if message.uid is None:
                continue
            key = f"imap:{validity}:{message.uid}"
            if SeenRemoteMessage.objects.filter(mailbox=mailbox, key=key).exists():
                continue
            receive(message.obj.as_bytes(), recipients=[mailbox.address], source="imap")
            _remember(mailbox, key)
            taken += 1
            if mailbox.processed_folder:
                remote.move(message.uid, mailbox.processed_folder)
            else:
                remote.flag(message.uid, "\\Seen", True)
    return taken


def poll_pop3(mailbox: Mailbox) -> int:
    port = mailbox.port or (995 if mailbox.use_ssl else 110)
    client = (
        poplib.POP3_SSL(mailbox.host, port, timeout=30)
        if mailbox.use_ssl
        else poplib.POP3(mailbox.host, port, timeout=30)
    )
    taken = 0
    try:
        client.user(mailbox.username)
        client.pass_(mailbox.password)
        _, listing, _ = client.uidl()
        for line in listing[:BATCH]:
            number, uid = line.decode().split(" ", 1)
            key = f"pop3:{uid}"
            if SeenRemoteMessage.objects.filter(mailbox=mailbox, key=key).exists():
                continue
            _, lines, _ = client.retr(int(number))
            receive(b"\r\n".join(lines) + b"\r\n", recipients=[mailbox.address], source="pop3")
            _remember(mailbox, key)
            client.dele(int(number))
            taken += 1
    finally:
        with contextlib.suppress(poplib.error_proto, OSError):
            client.quit()
    return taken


def poll(mailbox: Mailbox) -> int:
    """Poll one mailbox; errors are recorded on it (shown to admins) and retried next time."""
    try:
        taken = (
            poll_imap(mailbox) if mailbox.protocol == Mailbox.Protocol.IMAP else poll_pop3(mailbox)
        )
    except Exception as exc:
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_error=f"{type(exc).__name__}: {exc}"[:2000], last_polled_at=timezone.now()
        )
        logger.warning("polling %s failed: %s", mailbox.address, exc)
        return 0
    Mailbox.objects.filter(pk=mailbox.pk).update(last_error="", last_polled_at=timezone.now())
    return taken
