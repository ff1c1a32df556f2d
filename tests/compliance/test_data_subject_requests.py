"""Export and erasure of a customer: admin-only, complete, audited."""

import io
import json
import zipfile

import pytest
from django.core.management import call_command

from caredesk.accounts.services import create_token
from caredesk.compliance.models import AuditEntry
from caredesk.customers.models import Identity
from caredesk.tickets.models import Attachment, Message, RawInbound, Ticket
from caredesk.tickets.services import (
    InboundAttachment,
    InboundMessage,
    SenderIdentity,
    ingest,
    post_message,
)

pytestmark = pytest.mark.django_db


def bearer(agent):
    return {"HTTP_AUTHORIZATION": f"Bearer {create_token(agent).token}"}


@pytest.fixture
def customer_with_history(personas):
    result = ingest(
        InboundMessage(
            channel="email",
            sender=SenderIdentity("email", "dana@example.test", "Dana Doe"),
            subject="Dana's broken order",
            body_text="My address is 1 Main St",
            external_id="<dana-1@example.test>",
            raw=b"From: dana@example.test\r\n\r\nMy address is 1 Main St",
            attachments=[InboundAttachment("receipt.txt", "text/plain", b"receipt for Dana")],
        )
    )
    post_message(personas.admin, result.ticket, body_text="internal: VIP", internal=True)
    return result.ticket.requester


def test_admin_exports_everything_as_one_archive(client, personas, customer_with_history):
    response = client.post(
        f"/api/v1/customers/{customer_with_history.pk}/export", **bearer(personas.admin)
    )
    assert response.status_code == 200
    assert response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    document = json.loads(archive.read("customer.json"))
    assert document["customer"]["email"] == "dana@example.test"
    assert document["tickets"][0]["messages"][0]["body_text"] == "My address is 1 Main St"
    assert all("internal" not in m["body_text"] for t in document["tickets"] for m in t["messages"])
    attachment_names = [n for n in archive.namelist() if n.startswith("attachments/")]
    assert len(attachment_names) == 1 and archive.read(attachment_names[0]) == b"receipt for Dana"
    assert AuditEntry.objects.filter(
        action="customer.exported", target_id=str(customer_with_history.pk)
    ).exists()


@pytest.mark.parametrize("persona", ["alice", "lead"])
def test_export_and_erase_are_admin_only(client, personas, customer_with_history, persona):
    headers = bearer(getattr(personas, persona))
    assert (
        client.post(f"/api/v1/customers/{customer_with_history.pk}/export", **headers).status_code
        == 403
    )
    assert (
        client.post(f"/api/v1/customers/{customer_with_history.pk}/erase", **headers).status_code
        == 403
    )
    assert Identity.objects.filter(customer=customer_with_history).exists()


def test_erase_removes_personal_data_and_keeps_statistics(client, personas, customer_with_history):
    ticket = Ticket.objects.get(requester=customer_with_history)
    stored_file = Attachment.objects.get().file
    response = client.post(
        f"/api/v1/customers/{customer_with_history.pk}/erase", **bearer(personas.admin)
    )
    assert response.status_code == 200
    assert response.json()["tickets"] == 1
    customer_with_history.refresh_from_db()
    assert customer_with_history.email == "" and "Dana" not in customer_with_history.name
    assert not Identity.objects.filter(customer=customer_with_history).exists()
    ticket.refresh_from_db()
    assert ticket.status and ticket.channel == "email" and "Dana" not in ticket.subject
    assert not Message.objects.filter(body_text__contains="Main St").exists()
    assert not Attachment.objects.exists() and not stored_file.storage.exists(stored_file.name)
    assert not RawInbound.objects.exists()
    assert not ticket.events.filter(data__icontains="Dana").exists()
    assert AuditEntry.objects.filter(action="customer.erased").count() == 1
    again = client.post(
        f"/api/v1/customers/{customer_with_history.pk}/erase", **bearer(personas.admin)
    )
    assert again.status_code == 422


def test_erase_from_the_command_line_needs_confirmation(personas, customer_with_history):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="--yes"):
        call_command("customer", "erase", str(customer_with_history.pk))
    call_command("customer", "erase", str(customer_with_history.pk), "--yes")
    customer_with_history.refresh_from_db()
    assert customer_with_history.anonymized_at is not None


def test_audit_log_is_admin_only_searchable_and_append_only(
    client, personas, customer_with_history
):
    client.post(f"/api/v1/customers/{customer_with_history.pk}/export", **bearer(personas.admin))
    assert client.get("/api/v1/audit", **bearer(personas.alice)).status_code == 403
    page = client.get("/api/v1/audit?action=customer.", **bearer(personas.admin)).json()
    assert [item["action"] for item in page["items"]] == ["customer.exported"]
    csv_body = client.get("/api/v1/audit/export", **bearer(personas.admin)).content.decode()
    assert "customer.exported" in csv_body
    entry = AuditEntry.objects.first()
    with pytest.raises(RuntimeError):
        entry.save()
    with pytest.raises(RuntimeError):
        entry.delete()


def test_viewing_a_restricted_ticket_is_audited(personas):
    from caredesk.tickets.services import access_ticket, update_ticket
    from tests import factories

    ticket = factories.ticket(team=personas.billing)
    update_ticket(personas.lead, ticket, {"restricted": True})
    access_ticket(personas.lead, ticket.pk)
    assert (
        AuditEntry.objects.filter(action="ticket.restricted_viewed", actor=personas.lead).count()
        == 1
    )


def test_erased_text_can_no_longer_be_found_by_search(personas, customer_with_history):
    from caredesk.compliance.services import erase_customer
    from caredesk.search.services import search

    def hits(query):
        return [hit.title for hit in search(query, types=["ticket"], agent=personas.admin)]

    assert hits("Main")  # indexed at ingestion
    erase_customer(personas.admin, customer_with_history)
    assert hits("Main") == []
    assert hits("broken order") == []
