"""WebSocket URL patterns (all under /ws/).

The chat widget's socket checks its origin against the widget's own allowed origins (sites that
embed it); the workspace socket takes the agent's session and only caredesk's own hosts.
"""

from channels.auth import AuthMiddlewareStack
from channels.security.websocket import AllowedHostsOriginValidator
from django.urls import URLPattern, URLResolver, path

from caredesk.channels.chat.consumers import AgentConsumer, VisitorConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/chat/<slug:key>/", VisitorConsumer.as_asgi()),
    path(
        "ws/agent/",
        AllowedHostsOriginValidator(AuthMiddlewareStack(AgentConsumer.as_asgi())),
    ),
]
