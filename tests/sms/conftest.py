"""SMS fixtures: a Twilio account, signed webhook posts, and a stub of Twilio's REST API on
127.0.0.1 (a tiny http.server thread) that records what it was sent."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest

from caredesk.channels.sms import services, signature
from caredesk.channels.sms.models import SmsAccount

ACCOUNT_SID = "AC" + "1234567890abcdef" * 2
AUTH_TOKEN = "s3cret-auth-token"
OUR_NUMBER = "+14155550100"
CUSTOMER = "+14155552671"


@pytest.fixture
def account(db) -> SmsAccount:
    return SmsAccount.objects.create(
        name="Support line",
        slug="support",
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        phone_number=OUR_NUMBER,
        help_text="Text us any time. Reply STOP to opt out.",
    )


def signed_post(client: Any, path: str, form: dict[str, str], token: str = AUTH_TOKEN) -> Any:
    sig = signature.compute(token, services.webhook_url(path), form.items())
    return post_form(client, path, form, HTTP_X_TWILIO_SIGNATURE=sig)


def post_form(client: Any, path: str, form: dict[str, str], **headers: str) -> Any:
    """As Twilio posts: application/x-www-form-urlencoded."""
    return client.post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", **headers
    )


def text(client: Any, account: SmsAccount, body: str, sid: str, sender: str = CUSTOMER, **extra):
    form = {
        "MessageSid": sid,
        "AccountSid": account.account_sid,
        "From": sender,
        "To": account.phone_number,
        "Body": body,
        "NumMedia": "0",
        **extra,
    }
    return signed_post(client, account.inbound_path, form)


@dataclass
class Recorded:
    method: str
    path: str
    authorization: str
    form: dict[str, str]


@dataclass
class StubTwilio:
    """Answers POST .../Messages.json with the next queued (status, json) answer (default: 201
    with a new sid) and GET of a path in `media` with its bytes (else 404)."""

    port: int = 0
    requests: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @staticmethod
    def sid(n: int) -> str:
        """The sid of the n-th text sent (unlike the inbound ones the tests make up)."""
        return f"SM{'f' * 24}{n:08d}"

    def basic_auth(self, sid: str = ACCOUNT_SID, token: str = AUTH_TOKEN) -> str:
        return "Basic " + base64.b64encode(f"{sid}:{token}".encode()).decode()


@pytest.fixture
def twilio(settings) -> Iterator[StubTwilio]:
    stub = StubTwilio()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _record(self, form: dict[str, str]) -> None:
            stub.requests.append(
                Recorded(self.command, self.path, self.headers.get("Authorization", ""), form)
            )

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode()))
            self._record(form)
            status, body = stub.answers.pop(0) if stub.answers else (201, {})
            if status < 300:
                body = {"sid": stub.sid(len(stub.requests)), "status": "queued", **body}
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802
            self._record({})
            if self.path not in stub.media:
                self.send_error(404)
                return
            content_type, data = stub.media[self.path]
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    stub.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CAREDESK_TWILIO_API_BASE = stub.base
    try:
        yield stub
    finally:
        server.shutdown()
        server.server_close()


def form_body(form: dict[str, str]) -> bytes:
    return urlencode(form).encode()
