"""The transactional outbox: every outbound message is a `Delivery` row written with the change.

- `queue(...)` writes the row in the caller's transaction and, after commit, asks a worker to
  send it; a rolled-back change leaves no row, a committed one is never lost.
- `deliver(id)` claims the row with one atomic UPDATE (pending and due, or sending with an
  expired lease), calls its channel's transport (`caredesk.channels.base`) and marks it sent.
  A claimed row is never handed to a second worker, and a sent one is never claimed again.
- A temporary failure is retried with exponential backoff up to CAREDESK_OUTBOX_MAX_ATTEMPTS
  tries; a permanent one (the transport says so) stops at once. Every failure is logged with its
  reason and, for a reply, shown on its message.
- `sweep()` (every minute, and when a worker starts) hands out again what a crash left: rows
  still pending CAREDESK_OUTBOX_GRACE_SECONDS after they were due, and rows whose sender died.

A worker killed after the transport handed the message over but before the row was marked sent
sends it again when the lease expires: email keeps the same Message-ID on every try, so the
receiving side sees one message (docs/decisions/0016-transactional-outbox.md).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from caredesk.core.models import Delivery

logger = logging.getLogger("caredesk.outbox")

LEASE_SECONDS = 300
REMOVED = "(removed after sending)"


def queue(
    channel: str,
    kind: str,
    *,
    message: Any = None,
    ticket: Any = None,
    recipient: str = "",
    payload: dict[str, Any] | None = None,
) -> Delivery:
    """Write one delivery in the current transaction; it is sent after the commit."""
    return queue_many(
        [
            Delivery(
                channel=channel,
                kind=kind,
                message=message,
                ticket=ticket if ticket is not None else getattr(message, "ticket", None),
                recipient=recipient[:320],
                payload=payload or {},
            )
        ]
    )[0]


def queue_reply(message: Any) -> Delivery | None:
    """Queue a public reply for its channel's transport; None when the channel has none (live
    chat pushes its replies to the open widget instead)."""
    from caredesk.channels.base import adapter_for, transport_for

    if transport_for(message.channel) is None:
        return None
    adapter = adapter_for(message.channel)
    if adapter is not None and adapter.recipient is not None:
        recipient = adapter.recipient(message)  # a phone number, a provider's user id
    else:
        recipient = getattr(message.ticket.requester, "email", "") or ""
    return queue(message.channel, "reply", message=message, recipient=recipient)


def queue_many(deliveries: list[Delivery]) -> list[Delivery]:
    """Write several deliveries with one INSERT (a batch of new tickets' acknowledgements)."""
    if not deliveries:
        return []
    now = timezone.now()
    for delivery in deliveries:
        delivery.next_attempt_at = now
    created = Delivery.objects.bulk_create(deliveries)
    ids = [d.pk for d in created]
    transaction.on_commit(lambda: [_dispatch(delivery_id) for delivery_id in ids])
    return created


def _dispatch(delivery_id: int, delay: int = 0) -> None:
    """Ask a worker to send; if the queue cannot take it, the sweep will."""
    from caredesk.core.tasks import deliver_task

    try:
        if delay > 0:
            deliver_task.schedule((delivery_id,), delay=delay)
        else:
            deliver_task(delivery_id)
    except Exception:
        # Runs after a commit (in a request, too): the change stands, the sweep sends it later.
        logger.exception("delivery %s: could not hand it to a worker; the sweep will", delivery_id)


def backoff_seconds(attempts: int) -> int:
    return int(min(30 * 2 ** max(attempts - 1, 0), 3600))


def claim(delivery_id: int) -> bool:
    now = timezone.now()
    claimable = Q(state=Delivery.State.PENDING, next_attempt_at__lte=now) | Q(
        state=Delivery.State.SENDING, lease_until__lt=now
    )
    claimed = Delivery.objects.filter(claimable, pk=delivery_id).update(
        state=Delivery.State.SENDING,
        lease_until=now + timedelta(seconds=LEASE_SECONDS),
        attempts=F("attempts") + 1,
    )
    return claimed == 1


def deliver(delivery_id: int) -> str:
    """Claim and send one delivery: "sent", "retry", "failed" or "skipped" (not claimable)."""
    from caredesk.channels.base import TransportError, transport_for

    if not claim(delivery_id):
        return "skipped"
    delivery = Delivery.objects.select_related("message__ticket", "ticket").get(pk=delivery_id)
    transport = transport_for(delivery.channel)
    try:
        if transport is None:
            raise TransportError(f"No transport sends on the {delivery.channel!r} channel.", True)
        transport.deliver(delivery)
    except TransportError as exc:
        return _failed(delivery, exc.message, permanent=exc.permanent)
    except Exception as exc:  # a bug or an unforeseen error: retried, and logged with its reason
        return _failed(delivery, f"{type(exc).__name__}: {exc}", permanent=False)
    _mark_sent(delivery)
    return "sent"


def _finished_payload(delivery: Delivery) -> dict[str, Any]:
    """The payload kept after the last try: secrets (a sign-in link) are not kept."""
    secret = delivery.payload.get("secret_fields") or []
    return {k: (REMOVED if k in secret else v) for k, v in delivery.payload.items()}


def _mark_sent(delivery: Delivery) -> None:
    from caredesk.tickets import services as tickets
    from caredesk.tickets.models import DeliveryStatus, Message

    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.SENT,
            sent_at=timezone.now(),
            lease_until=None,
            last_error="",
            payload=_finished_payload(delivery),
        )
        # A provider's receipt ("delivered", "read") can arrive before the send is marked: the
        # status never moves backwards.
        if (
            delivery.message is not None
            and not Message.objects.filter(
                pk=delivery.message_id,
                delivery_status__in=[DeliveryStatus.DELIVERED, DeliveryStatus.READ],
            ).exists()
        ):
            tickets.set_delivery_status(delivery.message, DeliveryStatus.SENT)


def _failed(delivery: Delivery, reason: str, *, permanent: bool) -> str:
    from caredesk.tickets import services as tickets
    from caredesk.tickets.models import DeliveryStatus, Message

    max_attempts = settings.CAREDESK_OUTBOX_MAX_ATTEMPTS
    final = permanent or delivery.attempts >= max_attempts
    delay = backoff_seconds(delivery.attempts)
    logger.warning(
        "delivery %s (%s %s to %s) failed on try %d of %d, %s: %s",
        delivery.pk,
        delivery.channel,
        delivery.kind,
        delivery.recipient or "-",
        delivery.attempts,
        max_attempts,
        "permanent, not retried"
        if permanent
        else ("giving up" if final else f"retrying in {delay}s"),
        reason,
    )
    with transaction.atomic():
        Delivery.objects.filter(pk=delivery.pk).update(
            state=Delivery.State.FAILED if final else Delivery.State.PENDING,
            last_error=reason[:5000],
            lease_until=None,
            next_attempt_at=timezone.now() + timedelta(seconds=delay),
            **({"payload": _finished_payload(delivery)} if final else {}),
        )
        if delivery.message is not None:
            if final:
                tickets.set_delivery_status(delivery.message, DeliveryStatus.FAILED, reason)
            else:
                # Still queued: the reason shows on the message until a later try succeeds.
                Message.objects.filter(pk=delivery.message.pk).update(delivery_error=reason[:2000])
    if final:
        return "failed"
    _dispatch(delivery.pk, delay)
    return "retry"


def sweep(grace_seconds: int | None = None) -> int:
    """Hand out again deliveries a crash left: pending past their time plus the grace period
    (the after-commit hand-off was lost) and sending with an expired lease (the sender died)."""
    grace = settings.CAREDESK_OUTBOX_GRACE_SECONDS if grace_seconds is None else grace_seconds
    now = timezone.now()
    due = Delivery.objects.filter(
        Q(state=Delivery.State.PENDING, next_attempt_at__lte=now - timedelta(seconds=grace))
        | Q(state=Delivery.State.SENDING, lease_until__lt=now)
    ).values_list("pk", flat=True)[:1000]
    ids = list(due)
    for delivery_id in ids:
        _dispatch(delivery_id)
    if ids:
        logger.info("outbox sweep: %d deliveries handed out again", len(ids))
    return len(ids)
