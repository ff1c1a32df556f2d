"""The channel transport contract: how the outbox hands a delivery to a channel.

Each channel that sends registers one `Transport` under its name (`register_transport`); the
outbox (`caredesk.core.outbox`) looks it up by the delivery's channel and calls `deliver`. A
transport raises `TransportError` when it cannot send: `permanent=True` when trying again cannot
help (the recipient does not exist, the server said 5xx), else the outbox retries with backoff.
See docs/decisions/0015-transactional-outbox.md.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from caredesk.core.models import Delivery


class TransportError(Exception):
    """A delivery that did not go out, with the reason a person can read."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class Transport:
    """Sends the deliveries of one channel. Subclasses set `channel` and implement `deliver`."""

    channel: ClassVar[str] = ""

    def deliver(self, delivery: Delivery) -> str:
        """Send one delivery; return the channel's id for what was sent (e.g. the Message-ID),
        or "". Raise TransportError when it was not sent."""
        raise NotImplementedError


TRANSPORTS: dict[str, Transport] = {}


def register_transport(transport: Transport) -> Transport:
    """Make `transport` the one that sends its channel's deliveries (one per channel)."""
    if not transport.channel:
        raise ValueError("A transport needs a channel name.")
    existing = TRANSPORTS.get(transport.channel)
    if existing is not None and type(existing) is not type(transport):
        raise ValueError(f"The {transport.channel!r} channel already has a transport.")
    TRANSPORTS[transport.channel] = transport
    return transport


def transport_for(channel: str) -> Transport | None:
    return TRANSPORTS.get(channel)
