"""Long attachment names with many dots (a real court letter's) land on every channel: the file is
stored under a generated name, the original is kept for display and for downloads."""

from urllib.parse import quote

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from caredesk.channels.email.services import receive
from caredesk.tickets.models import Attachment, RawInbound, Ticket
from caredesk.tickets.services import quarantine
from tests import factories
from tests.api import conftest as api_fixtures
from tests.email import conftest as email_fixtures
from tests.email.mail import make

pytestmark = pytest.mark.django_db

# The channels' own fixtures: this module tests every channel.
api_as = api_fixtures.api_as
mailbox = email_fixtures.mailbox

COURT_LETTER = (
    "Wezwanie sygn. 2Ds. 137414.2024 z dnia 12.03.2024 r. do stawiennictwa w charakterze "
    "świadka w Prokuraturze Rejonowej.pdf"
)
PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def _stored(attachment: Attachment) -> None:
    assert attachment.filename == COURT_LETTER
    assert len(attachment.file.name) <= Attachment._meta.get_field("file").max_length
    assert "Wezwanie" not in attachment.file.name and attachment.file.name.endswith(".pdf")
    with attachment.file.open("rb") as handle:
        assert handle.read() == PDF


def test_email_with_a_long_dotted_attachment_name_makes_a_ticket(mailbox):
    assert len(COURT_LETTER) > 100
    raw = make(attachments=[(COURT_LETTER, "application/pdf", PDF)])
    result = receive(raw)
    assert result.outcome == "created", result
    assert not RawInbound.objects.filter(state=RawInbound.State.QUARANTINED).exists()
    _stored(Ticket.objects.get(pk=result.ticket_id).messages.get().attachments.get())


def test_api_upload_and_download_keep_the_original_name(api_as, personas, client):
    ticket = factories.ticket(team=personas.billing)
    api = api_as(personas.alice)
    upload = SimpleUploadedFile(COURT_LETTER, PDF, content_type="application/pdf")
    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/messages/upload",
        {"body": "the letter", "files": [upload]},
        **api.headers,
    )
    assert response.status_code == 201, response.content
    attachment = Attachment.objects.get()
    _stored(attachment)
    download = client.get(response.json()["attachments"][0]["url"], **api.headers)
    assert download.status_code == 200
    assert quote(COURT_LETTER) in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == PDF


def test_portal_request_with_a_long_dotted_attachment_name(client):
    upload = SimpleUploadedFile(COURT_LETTER, PDF, content_type="application/pdf")
    response = client.post(
        "/help/requests/new/",
        {
            "name": "Robin Reader",
            "email": "robin@example.test",
            "subject": "Court letter",
            "body": "Please see the letter.",
            "files": [upload],
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    _stored(Ticket.objects.get().messages.get().attachments.get())


def test_a_name_over_255_characters_keeps_its_extension(mailbox):
    name = "a." * 200 + "pdf"
    result = receive(make(attachments=[(name, "application/pdf", PDF)]))
    attachment = Ticket.objects.get(pk=result.ticket_id).messages.get().attachments.get()
    assert len(attachment.filename) == 255 and attachment.filename.endswith(".pdf")


def test_mail_quarantined_for_its_attachment_name_reprocesses(mailbox, api_as, personas):
    raw = make(attachments=[(COURT_LETTER, "application/pdf", PDF)])
    stuck = quarantine("email", raw, "Storage can not find an available filename")
    response = api_as(personas.admin).post(f"/api/v1/email/quarantine/{stuck.pk}/reprocess")
    assert response.status_code == 200, response.content
    ticket = Ticket.objects.get(pk=response.json()["ticket_id"])
    _stored(ticket.messages.get().attachments.get())


def test_a_suspicious_operation_is_a_json_400_from_the_api(mailbox, api_as, personas, monkeypatch):
    """What reprocessing such mail used to answer (Django's HTML 400 page) is JSON now."""
    from django.core.exceptions import SuspiciousFileOperation

    from caredesk.channels.email import api as email_api

    def refuse(raw_id):
        raise SuspiciousFileOperation("Storage can not find an available filename")

    monkeypatch.setattr(email_api, "reprocess", refuse)
    stuck = quarantine("email", make(), "stuck")
    response = api_as(personas.admin).post(f"/api/v1/email/quarantine/{stuck.pk}/reprocess")
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "bad_request"
