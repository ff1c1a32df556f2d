"""`caredesk backup` / `caredesk restore` round-trip an instance exactly (rows and files)."""

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from caredesk.tickets.models import Attachment, Ticket
from caredesk.tickets.services import InboundAttachment, post_message
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def snapshot():
    out = io.StringIO()
    call_command(
        "dumpdata",
        "--exclude=contenttypes",
        "--exclude=auth.permission",
        "--exclude=sessions",
        "--exclude=admin.logentry",
        "--exclude=compliance.auditentry",
        "--natural-foreign",
        # Full timestamp precision, so a restore that loses microseconds fails the comparison.
        "--format=precisejson",
        stdout=out,
    )
    return sorted(json.dumps(row, sort_keys=True) for row in json.loads(out.getvalue()))


def test_backup_and_restore_round_trip(personas, tmp_path):
    ticket = factories.ticket(team=personas.billing, tags=["vip", "refund"])
    post_message(
        personas.alice,
        ticket,
        body_text="Here is the label",
        attachments=[InboundAttachment("label.pdf", "application/pdf", b"%PDF-1.4 label")],
    )
    before = snapshot()
    file_name = Attachment.objects.get().file.name
    archive = tmp_path / "backup.tar.gz"
    call_command("backup", f"--output={archive}")

    Ticket.objects.all().delete()
    storage = Attachment._meta.get_field("file").storage
    storage.delete(file_name)
    assert not storage.exists(file_name)

    call_command("restore", str(archive), "--yes")
    assert snapshot() == before
    with storage.open(file_name) as handle:
        assert handle.read() == b"%PDF-1.4 label"
    # New rows after a restore get fresh ids.
    assert factories.ticket().pk > ticket.pk


def test_restore_refuses_without_confirmation_or_with_a_bad_archive(tmp_path):
    bogus = tmp_path / "bogus.tar.gz"
    bogus.write_bytes(b"not an archive")
    with pytest.raises(CommandError, match="--yes"):
        call_command("restore", str(bogus))
    with pytest.raises(Exception):
        call_command("restore", str(bogus), "--yes")
