"""caredesk: self-hosted customer care platform."""

__version__ = "0.1.0"
