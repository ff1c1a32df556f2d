"""WebSocket URL patterns (all under /ws/); each realtime feature adds its consumers here."""

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
