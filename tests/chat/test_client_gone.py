"""A browser that leaves while its frame is being answered is an ordinary event, not an error."""

import logging

from uvicorn.protocols.utils import ClientDisconnected

from caredesk.channels.chat.consumers import JsonConsumer
from tests.loops import in_own_loop


class LeavingBrowser(JsonConsumer):
    """A consumer whose client has just gone: every send fails as uvicorn's does then."""

    async def send(self, text_data=None, bytes_data=None, close=False):
        raise ClientDisconnected()

    async def do_watch(self, frame):
        await self.send_json({"type": "watching"})

    async def do_broken(self, frame):
        raise RuntimeError("a real bug")


def test_a_client_that_left_is_not_logged_as_an_error(caplog):
    caplog.set_level(logging.DEBUG, logger="caredesk.chat")
    # A loop of its own: a browser test in this process may have left one running here.
    in_own_loop(lambda: LeavingBrowser().receive(text_data='{"type": "watch", "ticket": 1}'))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_real_failure_is_still_logged_even_if_the_client_then_left(caplog):
    in_own_loop(lambda: LeavingBrowser().receive(text_data='{"type": "broken"}'))
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == ["chat frame broken failed"]
