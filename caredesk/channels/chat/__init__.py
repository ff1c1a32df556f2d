"""Live chat channel: the widget, WebSocket consumers and presence."""
