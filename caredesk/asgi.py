"""ASGI entry point: Django for HTTP, Channels for WebSocket (under /ws/)."""

import gc
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "caredesk.settings")

from django.core.asgi import get_asgi_application  # noqa: E402

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from caredesk.routing_ws import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # Each pattern brings its own origin check (the chat widget is embedded on other sites).
        "websocket": URLRouter(websocket_urlpatterns),
    }
)

# A server process holds thousands of sockets' objects for hours: what was loaded at start-up is
# kept out of the cyclic collector's passes, and full passes (which walk every live object and
# stall the event loop for tens of milliseconds with 5,000 sockets) come ten times more rarely.
# Chat delivery's p99 at 5,000 connections: docs/decisions/0014.
gc.freeze()
gc.set_threshold(10_000, 50, 100)
