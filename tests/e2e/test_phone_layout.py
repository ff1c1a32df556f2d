"""On a 390 px phone the demo shop page fits the screen and the chat launcher is fully on it
(the widget gets its settings over the WebSocket: a real server process)."""

import pytest

from tests.e2e.test_live_chat import Server

pytestmark = pytest.mark.e2e


def test_demo_chat_page_fits_a_phone_and_the_launcher_is_on_screen(browser, tmp_path):
    server = Server(tmp_path)
    server.manage("migrate", "--no-input")
    server.manage(
        "shell",
        "-c",
        "from caredesk.channels.chat.models import ChatWidget; "
        "ChatWidget.objects.create(name='Demo', key='demo')",
    )
    server.start()
    context = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{server.url}/chat/demo/")
        launcher = page.locator("[data-caredesk-chat] .launcher")
        launcher.wait_for(state="visible")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = launcher.bounding_box()
        assert box is not None
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["y"] >= 0 and box["y"] + box["height"] <= 800
    finally:
        context.close()
        server.stop()
