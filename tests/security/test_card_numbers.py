"""No card number is ever stored (docs/security.md): a corpus of test card numbers hidden in every
field and encoding a customer can send, sent through the real paths of a running caredesk (a
`caredesk serve` process: an SMTP conversation with its listener, the chat WebSocket, the API,
the help-centre form), then every file of its data directory is read (the SQLite database and its
WAL, the job queue, attachments, the server's log) and every stored raw record decompressed. No
number may appear in any of its groupings; the raw mail must still be the MIME it was, with the
same parts."""

from __future__ import annotations

import base64
import http.cookiejar
import json
import os
import re
import smtplib
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import zlib
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import pytest
from websockets.sync.client import connect

from tests.email.mail import REPO, SUPPORT, free_port

# One test number per case, so a leak names its path. All pass the Luhn check.
CARDS = {
    "display name": "4012888888881881",
    "encoded display name": "4242424242424242",
    "subject": "5555555555554444",
    "html split by tags": "5105105105105100",
    "base64 part": "378282246310005",
    "quoted-printable part": "6011111111111117",
    "text attachment": "3566002020360505",
    "cvv after the number": "4000056655665556",
    "reply in a thread": "2223003122003222",
    "chat pre-chat name": "5200828282828210",
    "chat topic": "4000000760000002",
    "chat line": "6011000990139424",
    "api create": "30569309025904",
    "api requester name": "38520000023237",
    "portal form": "4917610000000000",
    "portal attachment": "4000002500003155",
}
CVV = "837"
ORIGIN = "https://shop.example"


def groupings(number: str) -> list[bytes]:
    """The number as people write it: whole, in fours, and in the 4-6-5 of American Express, with
    spaces or dashes."""
    forms = {number}
    for size in (4,):
        groups = [number[i : i + size] for i in range(0, len(number), size)]
        forms |= {" ".join(groups), "-".join(groups)}
    if len(number) == 15:
        amex = [number[:4], number[4:10], number[10:]]
        forms |= {" ".join(amex), "-".join(amex)}
    if len(number) == 14:
        diners = [number[:4], number[4:10], number[10:]]
        forms |= {" ".join(diners), "-".join(diners)}
    return sorted(form.encode() for form in forms)


def fours(number: str, sep: str = " ") -> str:
    return sep.join(number[i : i + 4] for i in range(0, len(number), 4))


# --- the running caredesk -------------------------------------------------------------------


def _wait_for_port(port: int, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"caredesk serve exited:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"port {port} never opened:\n{log.read_text()[-3000:]}")


SETUP = """
from caredesk.accounts.models import Role, Team, User
from caredesk.channels.chat.models import ChatWidget
from caredesk.channels.email.models import Mailbox
team = Team.objects.create(name="Billing")
User.objects.create_user(email="admin@example.test", password="a long pass phrase 1",
    name="Ada Admin", role=Role.ADMIN, is_staff=True, is_superuser=True)
Mailbox.objects.create(address="{support}", team=team)
ChatWidget.objects.create(name="Shop", key="shop", team=team, allowed_origins=["{origin}"],
    require_email=False)
"""


@pytest.fixture(scope="module")
def caredesk_server(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("card-numbers")
    http_port, smtp_port = free_port(), free_port()
    env = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(data_dir),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        "CAREDESK_SMTP_PORT": str(smtp_port),
        "CAREDESK_EMAIL_SENDER_RATE": "100000",
        # Acknowledgements go nowhere: nothing may call out.
        "CAREDESK_EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    manage = [sys.executable, "-m", "caredesk"]
    subprocess.run(
        [*manage, "migrate", "-v", "0"], cwd=REPO, env=env, check=True, capture_output=True
    )
    subprocess.run(
        [*manage, "shell", "-c", SETUP.format(support=SUPPORT, origin=ORIGIN)],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
    )
    token = subprocess.run(
        [*manage, "token", "create", "--agent", "admin@example.test"],
        cwd=REPO,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # The server's own log is part of the data directory it is checked with.
    log = data_dir / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*manage, "serve", "--no-demo", "--port", str(http_port)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_for_port(http_port, process, log)
        _wait_for_port(smtp_port, process, log)
        server = Server(data_dir, f"http://127.0.0.1:{http_port}", smtp_port, token, process)
        sent = send_corpus(server)
        server.wait_for_jobs()
        server.sent_mail = sent
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


class Server:
    def __init__(self, data_dir, url, smtp_port, token, process):
        self.data_dir: Path = data_dir
        self.url: str = url
        self.smtp_port: int = smtp_port
        self.token: str = token
        self.process: subprocess.Popen = process
        self.sent_mail: dict[str, bytes] = {}

    def database(self) -> sqlite3.Connection:
        # Read-only, so this reader adds nothing to what is checked.
        return sqlite3.connect(f"file:{self.data_dir / 'caredesk.sqlite3'}?mode=ro", uri=True)

    def wait_for_jobs(self) -> None:
        """Until the job queue is empty (search documents, routing, acknowledgements)."""
        queue = self.data_dir / "queue.sqlite3"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with sqlite3.connect(f"file:{queue}?mode=ro", uri=True) as db:
                    if db.execute("SELECT count(*) FROM task").fetchone()[0] == 0:
                        return
            except sqlite3.OperationalError:
                pass
            time.sleep(0.2)
        raise AssertionError("the job queue did not drain")


# --- the corpus, through the real paths -----------------------------------------------------


def _mail(sender: str, subject: str, *, message_id: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    msg["Message-ID"] = message_id or make_msgid(domain="example.test")
    return msg


def _quoted_printable_mail(number: str) -> bytes:
    """A quoted-printable body where the number is cut by a soft line break and two of its digits
    are written as =3X escapes: no run of its digits is in the bytes on the wire."""
    first, rest = number[:6], number[6:]
    escaped = "".join(f"=3{d}" if i in (1, 7) else d for i, d in enumerate(first))
    body = f"Please charge my card {escaped}=\r\n{rest[:4]} {rest[4:]} again. case=3Dqp\r\n"
    return (
        "From: Quinn <qp@example.test>\r\n"
        f"To: {SUPPORT}\r\n"
        "Subject: Quoted printable\r\n"
        f"Message-ID: {make_msgid(domain='example.test')}\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: text/plain; charset="utf-8"\r\n'
        "Content-Transfer-Encoding: quoted-printable\r\n"
        "\r\n" + body
    ).encode()


def corpus_mail() -> dict[str, bytes]:
    mails: dict[str, bytes] = {}
    msg = _mail(f'"Dee {fours(CARDS["display name"])}" <dn@example.test>', "Display name")
    msg.set_content("My name was typed oddly.")
    mails["display name"] = msg.as_bytes(policy=policy.SMTP)

    msg = _mail("", "Encoded display name")
    del msg["From"]
    # A non-ASCII name goes out as an RFC 2047 encoded word: no digit is readable on the wire.
    msg["From"] = f"Jöe Ünicode {fours(CARDS['encoded display name'], '-')} <en@example.test>"
    msg.set_content("Hello.")
    mails["encoded display name"] = msg.as_bytes(policy=policy.SMTP)

    first_id = make_msgid(domain="example.test")
    msg = _mail(
        "Sam <sk@example.test>",
        f"Refund for card {fours(CARDS['subject'])}",
        message_id=first_id,
    )
    msg.set_content("I was charged twice.")
    mails["subject"] = msg.as_bytes(policy=policy.SMTP)

    number = CARDS["html split by tags"]
    msg = _mail("Hal <html@example.test>", "HTML only")
    msg.set_content(
        f"<p>My card is <b>{number[:4]}</b> {number[4:8]} <i>{number[8:12]}</i>"
        f"<span> {number[12:]}</span></p>",
        subtype="html",
    )
    mails["html split by tags"] = msg.as_bytes(policy=policy.SMTP)

    msg = _mail("Bea <b64@example.test>", "Base64 body")
    amex = CARDS["base64 part"]
    msg.set_content(f"Card {amex[:4]} {amex[4:10]} {amex[10:]}, thanks.", cte="base64")
    mails["base64 part"] = msg.as_bytes(policy=policy.SMTP)

    mails["quoted-printable part"] = _quoted_printable_mail(CARDS["quoted-printable part"])

    msg = _mail("Tia <att@example.test>", "Statement attached")
    msg.set_content("The statement is attached.")
    msg.add_attachment(
        f"date,card\n2026-11-01,{fours(CARDS['text attachment'])}\n".encode(),
        maintype="text",
        subtype="csv",
        filename="statement.csv",
    )
    msg.add_attachment(
        b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
        maintype="image",
        subtype="png",
        filename="photo.png",
    )
    mails["text attachment"] = msg.as_bytes(policy=policy.SMTP)

    msg = _mail("Cal <cvv@example.test>", "Card details")
    msg.set_content(f"Card {fours(CARDS['cvv after the number'])} CVV {CVV}, expires 03/30.")
    mails["cvv after the number"] = msg.as_bytes(policy=policy.SMTP)

    msg = _mail("Sam <sk@example.test>", f"Re: Refund for card {fours(CARDS['subject'])}")
    msg["In-Reply-To"] = first_id
    msg["References"] = first_id
    msg.set_content(f"Use this one instead: {fours(CARDS['reply in a thread'], '-')}")
    mails["reply in a thread"] = msg.as_bytes(policy=policy.SMTP)
    return mails


def send_mail(server: Server, mails: dict[str, bytes]) -> None:
    for name, raw in mails.items():
        with smtplib.SMTP("127.0.0.1", server.smtp_port, timeout=30) as client:
            refused = client.sendmail("sender@example.test", [SUPPORT], raw)
        assert refused == {}, name


def chat(server: Server) -> None:
    ws_url = server.url.replace("http://", "ws://") + "/ws/chat/shop/"
    with connect(ws_url, additional_headers={"Origin": ORIGIN}, open_timeout=30) as socket_:

        def until(kind: str) -> dict:
            while True:
                frame = json.loads(socket_.recv(timeout=30))
                if frame["type"] == kind:
                    return frame
                assert frame["type"] != "error", frame

        until("hello")
        socket_.send(
            json.dumps(
                {
                    "type": "start",
                    "client_id": "c1",
                    "text": "Hello, a question about my card",
                    "name": f"Dana {fours(CARDS['chat pre-chat name'])}",
                    "topic": f"card {CARDS['chat topic']}",
                }
            )
        )
        until("started")
        until("ack")
        socket_.send(
            json.dumps(
                {
                    "type": "message",
                    "client_id": "c2",
                    "text": f"it is {fours(CARDS['chat line'], '-')}",
                }
            )
        )
        until("ack")


def api_create(server: Server) -> None:
    diners = CARDS["api create"]
    body = {
        "subject": "Card on file",
        "requester": {
            "email": "api@example.test",
            "name": f"Api {CARDS['api requester name']}",
        },
        "message": {
            "body": "See the HTML.",
            "html": f"<p>Card <b>{diners[:4]}</b> {diners[4:10]} {diners[10:]}</p>",
        },
    }
    request = urllib.request.Request(
        server.url + "/api/v1/tickets",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - our own server
        assert response.status == 201


def portal_form(server: Server) -> None:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    with opener.open(server.url + "/help/requests/new/", timeout=30) as response:
        page = response.read().decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    boundary = "----cardcorpus"
    fields = {
        "csrfmiddlewaretoken": csrf,
        "name": "Robin Reader",
        "email": "robin@example.test",
        "subject": "My payment",
        "body": f"Please use {fours(CARDS['portal form'])} for the renewal.",
    }
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
        for k, v in fields.items()
    ]
    parts.append(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="card.txt"\r\n'
        f"Content-Type: text/plain\r\n\r\ncard {CARDS['portal attachment']}\r\n".encode()
    )
    parts.append(f"--{boundary}--\r\n".encode())
    request = urllib.request.Request(
        server.url + "/help/requests/new/",
        data=b"".join(parts),
        headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}",
            "Referer": server.url + "/help/requests/new/",
        },
        method="POST",
    )
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
        assert "/help/requests/thanks/" in response.url


def send_corpus(server: Server) -> dict[str, bytes]:
    mails = corpus_mail()
    send_mail(server, mails)
    chat(server)
    api_create(server)
    portal_form(server)
    return mails


# --- what is on disk ------------------------------------------------------------------------


def leaks_in(content: bytes) -> list[str]:
    found = [
        f"{case} ({form.decode()})"
        for case, number in CARDS.items()
        for form in groupings(number)
        if form in content
    ]
    if re.search(rb"cvv\W{0,3}" + CVV.encode(), content, re.IGNORECASE):
        found.append("the CVV")
    return found


def data_dir_leaks(server: Server) -> dict[str, list[str]]:
    leaks = {}
    for path in sorted(server.data_dir.rglob("*")):
        if path.is_file():
            found = leaks_in(path.read_bytes())
            if found:
                leaks[str(path.relative_to(server.data_dir))] = found
    return leaks


def raw_mail(server: Server) -> dict[str, bytes]:
    with server.database() as db:
        rows = db.execute(
            "SELECT external_id, payload_compressed FROM tickets_rawinbound WHERE channel = 'email'"
        ).fetchall()
    return {external_id: zlib.decompress(payload) for external_id, payload in rows}


def structure(raw: bytes) -> list[tuple[str, str, str | None]]:
    msg = message_from_bytes(raw, policy=policy.default)
    return [
        (
            part.get_content_type(),
            str(part.get("Content-Transfer-Encoding", "")).lower(),
            part.get_filename(),
        )
        for part in msg.walk()
    ]


def test_every_case_was_stored_with_its_number_masked(caredesk_server):
    """The corpus arrived (a test that stored nothing would find no number either)."""
    with caredesk_server.database() as db:
        subjects = {row[0] for row in db.execute("SELECT subject FROM tickets_ticket")}
        bodies = " ".join(row[0] for row in db.execute("SELECT body_text FROM tickets_message"))
        names = {row[0] for row in db.execute("SELECT name FROM customers_customer")}
        attachments = {row[0] for row in db.execute("SELECT filename FROM tickets_attachment")}
        topics = {row[0] for row in db.execute("SELECT topic FROM chat_channel_chatsession")}
    assert "Refund for card [redacted card]" in subjects
    assert {"Dee [redacted card]", "Jöe Ünicode [redacted card]"} <= names
    assert {"Dana [redacted card]", "Api [redacted card]"} <= names
    assert topics == {"card [redacted card]"}
    for expected in (
        "My card is [redacted card]",  # the HTML split by tags, read as text
        "Card [redacted card], thanks.",  # base64
        "Please charge my card [redacted card] again. case=qp",  # quoted-printable
        "Card [redacted card] CVV [redacted cvv], expires 03/30.",
        "Use this one instead: [redacted card]",  # the reply, added to its thread
        "it is [redacted card]",  # the chat line
        "Please use [redacted card] for the renewal.",  # the help-centre form
        "Card [redacted card]",  # the API's HTML
    ):
        assert expected in bodies
    assert {"statement.csv", "photo.png", "card.txt"} <= attachments
    # The reply joined the subject's ticket (its thread key matched, redacted on both sides).
    with caredesk_server.database() as db:
        (replies,) = db.execute(
            "SELECT count(*) FROM tickets_message m JOIN tickets_ticket t ON t.id = m.ticket_id "
            "WHERE t.subject = 'Refund for card [redacted card]'"
        ).fetchone()
    assert replies == 2


def test_no_card_number_is_anywhere_in_the_data_directory(caredesk_server):
    # While the server runs: the WAL still holds what was written.
    assert (caredesk_server.data_dir / "caredesk.sqlite3-wal").exists()
    assert data_dir_leaks(caredesk_server) == {}
    assert {
        external_id: leaks_in(payload)
        for external_id, payload in raw_mail(caredesk_server).items()
        if leaks_in(payload)
    } == {}
    # And once it has stopped (the WAL checkpointed into the database file).
    caredesk_server.process.terminate()
    caredesk_server.process.wait(timeout=60)
    assert data_dir_leaks(caredesk_server) == {}


def test_raw_mail_keeps_its_mime_structure_with_the_numbers_replaced(caredesk_server):
    stored = raw_mail(caredesk_server)
    sent = caredesk_server.sent_mail
    by_id = {
        message_from_bytes(raw, policy=policy.default)["Message-ID"]: (case, raw)
        for case, raw in sent.items()
    }
    assert set(by_id) <= set(stored)
    for message_id, (case, raw) in by_id.items():
        assert structure(stored[message_id]) == structure(raw), case
    base64_mail = message_from_bytes(
        stored[message_from_bytes(sent["base64 part"])["Message-ID"]], policy=policy.default
    )
    assert base64_mail["Content-Transfer-Encoding"] == "base64"
    assert base64_mail.get_content() == "Card [redacted card], thanks.\n"
    encoded = base64_mail.get_payload()
    assert base64.b64decode(encoded).decode() == "Card [redacted card], thanks.\n"
    qp_mail = message_from_bytes(
        stored[message_from_bytes(sent["quoted-printable part"])["Message-ID"]],
        policy=policy.default,
    )
    assert qp_mail.get_content().startswith("Please charge my card [redacted card] again.")
    attachment_mail = message_from_bytes(
        stored[message_from_bytes(sent["text attachment"])["Message-ID"]], policy=policy.default
    )
    csv, png = [part for part in attachment_mail.walk() if part.get_filename()]
    assert csv.get_content() == "date,card\n2026-11-01,[redacted card]\n"
    # A binary attachment is kept byte for byte.
    assert png.get_content() == b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    named = message_from_bytes(
        stored[message_from_bytes(sent["encoded display name"])["Message-ID"]],
        policy=policy.default,
    )
    assert named["From"].addresses[0].display_name == "Jöe Ünicode [redacted card]"
