"""ASGI entry point: Django for HTTP, Channels for WebSocket (under /ws/)."""

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
