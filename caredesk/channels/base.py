"""The channel adapter contract: everything caredesk needs to know of one channel.

A channel is one folder under `caredesk/channels/` and one registration: its AppConfig.ready
calls `register_channel(ChannelAdapter(...))` with
- `parse_raw`: a stored raw record (bytes and metadata) into an `InboundMessage`, the form every
  channel hands the inbound pipeline (`tickets.services.ingest` / `ingest_new_many`); also how a
  quarantined record is reprocessed;
- `transport`: how the outbox (`caredesk.core.outbox`) sends the channel's deliveries. A transport
  raises `TransportError` when it cannot send: `permanent=True` when trying again cannot help
  (the recipient does not exist, the server said 5xx), else the outbox retries with backoff;
- `delivers_live`: replies reach the customer live without the outbox (the chat widget);
- `settings_section`: the workspace admin page where its accounts are set up;
- `demo`: what the demo data set adds for it (mailboxes, a widget);
- `recipient`: who a reply on a ticket goes to (a phone number for SMS); without it, the
  requester's e-mail address.
See docs/decisions/0016-transactional-outbox.md and 0017-channel-adapters.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

if TYPE_CHECKING:
    from caredesk.core.models import Delivery
    from caredesk.tickets.models import Message
    from caredesk.tickets.services import InboundMessage


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


@dataclass(frozen=True)
class ChannelAdapter:
    """One channel's registration (see the module docstring)."""

    name: str
    label: str
    parse_raw: Callable[[bytes, dict[str, Any]], InboundMessage] | None = None
    transport: Transport | None = None
    delivers_live: bool = False
    settings_section: str = ""
    demo: Callable[[], None] | None = None
    recipient: Callable[[Message], str] | None = None

    @property
    def delivers_replies(self) -> bool:
        """Whether an agent's public reply on this channel is sent to the customer (else it is
        read in the portal or by the API client)."""
        return self.transport is not None or self.delivers_live


ADAPTERS: dict[str, ChannelAdapter] = {}


def register_channel(adapter: ChannelAdapter) -> ChannelAdapter:
    """Register a channel (again under the same name: replaced, as AppConfig.ready may run twice)."""
    if adapter.transport is not None:
        if adapter.transport.channel != adapter.name:
            raise ValueError(f"The {adapter.name!r} channel's transport sends another channel.")
        TRANSPORTS[adapter.name] = adapter.transport
    ADAPTERS[adapter.name] = adapter
    return adapter


def adapter_for(channel: str) -> ChannelAdapter | None:
    return ADAPTERS.get(channel)


def delivers_replies(channel: str) -> bool:
    adapter = ADAPTERS.get(channel)
    return adapter is not None and adapter.delivers_replies


def demo_loaders() -> list[Callable[[], None]]:
    """The registered channels' demo hooks, in registration order."""
    return [adapter.demo for adapter in ADAPTERS.values() if adapter.demo is not None]
