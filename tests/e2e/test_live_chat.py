"""Live chat end to end in a real browser against a real server process (uvicorn, WebSockets).

A customer opens the widget on the demo page and chats with an agent signed in to the workspace
in a second browser context; the server goes away and comes back (a network loss for both
sides); nothing typed meanwhile is lost or doubled; the agent ends the chat and the transcript is
on the ticket.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e import conftest as e2e
from tests.e2e.conftest import screenshot

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "Chat-e2e-password-1"
SETUP = f"""
from caredesk.accounts.models import Team, User, Presence
from caredesk.channels.chat.models import ChatWidget
team = Team.objects.create(name="Support", slug="support")
agent = User.objects.create_user("ava@example.test", "{PASSWORD}", name="Ava Agent")
agent.teams.add(team)
ChatWidget.objects.create(name="Demo", key="demo", team=team, topics=["Orders"])
colleague = User.objects.create_user("ben@example.test", "{PASSWORD}", name="Ben Colleague")
colleague.teams.add(team)
"""
REPORT = """
import json
from caredesk.channels.chat.models import ChatSession
s = ChatSession.objects.select_related("ticket").get()
print(json.dumps({"status": s.status, "ticket_status": s.ticket.status, "channel": s.ticket.channel,
  "assignee": s.ticket.assignee.name if s.ticket.assignee else None,
  "messages": list(s.ticket.messages.order_by("id").values_list("author_kind", "body_text"))}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "CAREDESK_DATA_DIR": str(data_dir),
            "DJANGO_SETTINGS_MODULE": "caredesk.settings",
            "PYTHONPATH": str(REPO),
        }
        for name in ("DATABASE_URL", "REDIS_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"):
            self.env.pop(name, None)
        self.process: subprocess.Popen | None = None
        self.url = f"http://127.0.0.1:{self.port}"

    def manage(self, *args: str) -> str:
        return subprocess.run(
            [sys.executable, "-m", "caredesk", *args],
            cwd=REPO,
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "caredesk",
                "serve",
                "--port",
                str(self.port),
                "--no-demo",
                "--no-smtp",
            ],
            cwd=REPO,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(self.url + "/api/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        raise AssertionError("the chat test server did not start")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
            self.process = None


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path)
    srv.manage("migrate", "--no-input")
    srv.manage("shell", "-c", SETUP)
    srv.start()
    yield srv
    srv.stop()


def expect_sent(widget, text: str, timeout: float = 20000) -> None:
    """The visitor's line `text` is stored: its meta reads "sent" (not "sending…"), whichever of
    the ack and the live echo reached the widget first."""
    line = widget.locator("li.msg.visitor", has_text=text)
    expect(line.locator(".meta")).to_contain_text(" · sent", timeout=timeout)
    expect(line).not_to_have_class(re.compile(r"\bpending\b"), timeout=timeout)


def sign_in(page, server, email):
    e2e.sign_in(page, server.url, email, PASSWORD)


def test_the_workspace_updates_live_and_shows_who_else_is_on_a_ticket(browser, server):
    token = server.manage("token", "create", "--agent", "ava@example.test").strip().splitlines()[-1]
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {token}"})
    team_id = json.loads(
        server.manage(
            "shell", "-c", "from caredesk.accounts.models import Team; print(Team.objects.get().pk)"
        )
        .strip()
        .splitlines()[-1]
    )
    ava_ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    ben_ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    try:
        ava, ben = ava_ctx.new_page(), ben_ctx.new_page()
        for p in (ava, ben):
            p.set_default_timeout(20000)
        sign_in(ava, server, "ava@example.test")
        sign_in(ben, server, "ben@example.test")
        ava.goto(server.url + "/agent/?view=team")
        expect(ava.locator("body")).to_have_class(re.compile(r"\blive\b"), timeout=20000)
        expect(ava.locator('aside.views [data-view-count="team"]')).to_have_text("0")
        created = api.post(
            "/api/v1/tickets",
            json={
                "subject": "Arrived while I was looking",
                "requester": {"email": "zoe@example.test", "name": "Zoe"},
                "message": {"body": "Hello?"},
                "team": team_id,
            },
        )
        assert created.status_code == 201, created.text
        number = created.json()["id"]
        # The new ticket appears in the open inbox without a reload.
        ava.locator("#ticket-rows").get_by_text("Arrived while I was looking").wait_for()
        # And the sidebar's view counts follow.
        expect(ava.locator('aside.views [data-view-count="team"]')).to_have_text("1")
        expect(ava.locator('aside.views [data-view-count="unassigned"]')).to_have_text("1")

        ava.goto(f"{server.url}/agent/tickets/{number}/")
        expect(ava.locator("body")).to_have_class(re.compile(r"\blive\b"), timeout=20000)
        ben.goto(f"{server.url}/agent/tickets/{number}/")
        ben.locator("#composer-body").fill("Typing an answer")
        # Live collision detection: Ava sees Ben typing.
        ava.locator("#presence").get_by_text("Ben Colleague is replying to this ticket").wait_for()
        # A note added elsewhere shows up in the open conversation.
        api.post(
            f"/api/v1/tickets/{number}/messages",
            json={"body": "Checked the warehouse.", "internal": True},
        )
        ava.locator("ol.timeline").get_by_text("Checked the warehouse.").wait_for()
        # Ben mentions Ava in a note: her bell counts it without a reload.
        expect(ava.locator("#bell-count")).to_have_text("")
        ben.get_by_role("tab", name="Internal note").click()
        ben.locator("#composer-body").fill("@ava can you look at this?")
        ben.locator("#composer-submit").click()
        ben.wait_for_selector("text=Note added.")
        expect(ava.locator("#bell-count")).to_have_text("1 unread")
        ava.locator("#bell").click()
        ava.get_by_role("link", name=f"Ben Colleague mentioned you on #{number}").click()
        expect(ava).to_have_url(re.compile(rf"/agent/tickets/{number}/#m\d+$"))
        expect(ava.locator("#bell-count")).to_have_text("")
    finally:
        ava_ctx.close()
        ben_ctx.close()
        api.close()


def test_customer_and_agent_chat_through_a_network_loss_and_the_transcript_lands_on_the_ticket(
    browser, server
):
    agent_ctx = browser.new_context(viewport={"width": 1280, "height": 860})
    customer_ctx = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        agent = agent_ctx.new_page()
        customer = customer_ctx.new_page()
        for p in (agent, customer):
            p.set_default_timeout(20000)

        # The agent signs in, opens the chat desk and goes online.
        sign_in(agent, server, "ava@example.test")
        agent.goto(server.url + "/agent/chats/")
        agent.get_by_label("My status").select_option("online")
        agent.get_by_role("button", name="Set").click()
        agent.wait_for_url(server.url + "/agent/chats/")

        # The customer opens the widget on a page that embeds it, fills the pre-chat form.
        customer.goto(server.url + "/chat/demo/")
        widget = customer.locator("[data-caredesk-chat]")
        widget.get_by_role("button", name="Open chat").click()
        prechat = widget.locator("form.prechat")
        prechat.get_by_label("Name").fill("Dana Customer")
        prechat.get_by_label("Email").fill("dana@example.test")
        prechat.get_by_label("Message").fill("Where is my parcel?")
        prechat.get_by_role("button", name="Start chat").click()
        expect_sent(widget, "Where is my parcel?")

        # The offer reaches the agent, who accepts: the chat opens as a column.
        agent.get_by_role("alertdialog", name="Incoming chat").get_by_role(
            "button", name="Accept"
        ).click()
        column = agent.locator(".chat-column")
        column.get_by_text("Where is my parcel?").wait_for()
        widget.get_by_text("Ava Agent joined the chat.").wait_for()
        column.get_by_role("textbox", name="Message").fill("Let me check that for you.")
        column.get_by_role("textbox", name="Message").press("Enter")
        widget.get_by_text("Let me check that for you.").wait_for()
        screenshot(agent, "chat-desk.png")
        screenshot(customer, "chat-widget.png")

        # The network goes away: the customer keeps typing; the message waits in the outbox.
        server.stop()
        widget.get_by_text("Connection lost. Reconnecting…").wait_for()
        box = widget.get_by_role("textbox", name="Your message")
        box.fill("It was due on Monday.")
        box.press("Enter")
        widget.get_by_text("sending…").wait_for()
        server.start()
        # The widget retries with backoff (up to 8 s between tries) while the server restarts.
        expect_sent(widget, "It was due on Monday.", timeout=60000)
        column.get_by_text("It was due on Monday.").wait_for(timeout=60000)

        # A reload resumes the same conversation.
        customer.reload()
        widget = customer.locator("[data-caredesk-chat]")
        widget.get_by_text("Let me check that for you.").wait_for()

        column.get_by_role("button", name="End chat").click()
        widget.get_by_text("The chat has ended. Thank you!").wait_for()
    finally:
        agent_ctx.close()
        customer_ctx.close()

    report = json.loads(server.manage("shell", "-c", REPORT).strip().splitlines()[-1])
    assert report["status"] == "ended" and report["ticket_status"] == "solved"
    assert report["channel"] == "chat" and report["assignee"] == "Ava Agent"
    assert report["messages"] == [
        ["customer", "Where is my parcel?"],
        ["agent", "Let me check that for you."],
        ["customer", "It was due on Monday."],
    ]
