"""/api/v1/tickets: create, read, list, update, merge, split, messages, and every named bad input."""

import pytest

from caredesk.customers.services import create_customer
from caredesk.tickets.models import Message, Ticket
from tests import factories

pytestmark = pytest.mark.django_db

NEW = {
    "subject": "Printer on fire",
    "requester": {"email": "Pat@Example.test", "name": "Pat"},
    "message": {"body": "It is really on fire."},
}


def test_create_answers_201_with_the_ticket(api_as, personas):
    response = api_as(personas.alice).post(
        "/api/v1/tickets",
        {**NEW, "priority": "high", "team": personas.billing.pk, "tags": ["Fire", "hardware"]},
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["id"] == body["number"] and body["subject"] == "Printer on fire"
    assert body["priority"] == "high" and body["status"] == "new" and body["channel"] == "api"
    assert body["requester"]["email"] == "pat@example.test" and body["tags"] == ["fire", "hardware"]
    assert body["team"] == {"id": personas.billing.pk, "name": "Billing"}
    messages = api_as(personas.alice).get(f"/api/v1/tickets/{body['id']}/messages").json()
    assert messages["items"][0]["body_text"] == "It is really on fire."


def test_create_by_phone_normalises_to_e164(api_as, personas):
    payload = {**NEW, "requester": {"phone": "(415) 555-2671", "name": "Sam"}, "channel": "sms"}
    body = api_as(personas.alice).post("/api/v1/tickets", payload).json()
    assert body["requester"]["phone"] == "+14155552671"


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({**NEW, "priority": "extreme"}, 422, "validation_failed"),
        ({**NEW, "subject": "x" * 256}, 422, "validation_failed"),
        ({**NEW, "subject": ""}, 422, "validation_failed"),
        ({**NEW, "requester": {"name": "nobody"}}, 422, "validation_failed"),
        ({**NEW, "requester": {"email": "not-an-email"}}, 422, "bad_email"),
        ({**NEW, "requester": {"phone": "12"}}, 422, "bad_phone"),
        ({**NEW, "message": {"body": "   "}}, 422, "empty_message"),
        ({**NEW, "tags": "not-a-list"}, 422, "validation_failed"),
        ({**NEW, "team": "billing"}, 422, "validation_failed"),
        ({**NEW, "team": 999999}, 422, "unknown_team"),
        ({**NEW, "custom_fields": {"nope": 1}}, 422, "unknown_field"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_creates_nothing(api_as, personas, payload, status, code):
    response = api_as(personas.alice).post("/api/v1/tickets", payload)
    assert response.status_code == status, response.content
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert not Ticket.objects.exists()


def test_malformed_json_is_a_400(api_as, personas):
    response = api_as(personas.alice).post("/api/v1/tickets", '{"subject": "x", ')
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert not Ticket.objects.exists()


def test_unknown_status_transition_is_refused(api_as, personas):
    ticket = factories.ticket(team=personas.billing)
    api = api_as(personas.alice)
    assert api.patch(f"/api/v1/tickets/{ticket.pk}", {"status": "closed"}).status_code == 200
    response = api.patch(f"/api/v1/tickets/{ticket.pk}", {"status": "open"})
    assert response.status_code == 422 and response.json()["error"]["code"] == "bad_transition"
    assert Ticket.objects.get(pk=ticket.pk).status == "closed"


def test_assignment_to_an_agent_outside_the_team_is_refused(api_as, personas):
    ticket = factories.ticket(team=personas.billing)
    response = api_as(personas.alice).patch(
        f"/api/v1/tickets/{ticket.pk}", {"assignee": personas.carol.pk}
    )
    assert response.status_code == 422 and response.json()["error"]["code"] == "agent_not_in_team"
    assert Ticket.objects.get(pk=ticket.pk).assignee_id is None


def test_stale_version_is_a_409(api_as, personas):
    ticket = factories.ticket(team=personas.billing)
    api = api_as(personas.alice)
    first = api.patch(
        f"/api/v1/tickets/{ticket.pk}", {"version": ticket.version, "priority": "urgent"}
    )
    assert first.status_code == 200
    second = api.patch(
        f"/api/v1/tickets/{ticket.pk}", {"version": ticket.version, "priority": "low"}
    )
    assert second.status_code == 409 and second.json()["error"]["code"] == "stale_version"
    assert api.get(f"/api/v1/tickets/{ticket.pk}").json()["priority"] == "urgent"


def test_merge_and_merge_into_itself(api_as, personas):
    a = factories.ticket(team=personas.billing)
    b = factories.ticket(team=personas.billing)
    api = api_as(personas.alice)
    itself = api.post(f"/api/v1/tickets/{a.pk}/merge", {"into": a.pk})
    assert itself.status_code == 422 and itself.json()["error"]["code"] == "merge_into_self"
    merged = api.post(f"/api/v1/tickets/{a.pk}/merge", {"into": b.pk})
    assert merged.status_code == 200 and merged.json()["id"] == b.pk
    assert Message.objects.filter(ticket=b).count() == 2
    assert api.get(f"/api/v1/tickets/{a.pk}").json()["merged_into_id"] == b.pk


def test_split_reply_note_and_events(api_as, personas):
    ticket = factories.ticket(team=personas.billing, channel="email")
    api = api_as(personas.alice)
    reply = api.post(
        f"/api/v1/tickets/{ticket.pk}/messages", {"body": "We are on it", "status": "pending"}
    )
    assert reply.status_code == 201 and reply.json()["delivery_status"] == "queued"
    note = api.post(
        f"/api/v1/tickets/{ticket.pk}/messages", {"body": "customer is grumpy", "internal": True}
    )
    assert note.json()["internal"] is True
    assert api.get(f"/api/v1/tickets/{ticket.pk}").json()["status"] == "pending"
    split = api.post(f"/api/v1/tickets/{ticket.pk}/split", {"message_ids": [note.json()["id"]]})
    assert split.status_code == 201
    kinds = [e["kind"] for e in api.get(f"/api/v1/tickets/{ticket.pk}/events").json()["items"]]
    assert kinds[0] == "created" and "split" in kinds and "note_added" in kinds


def test_empty_reply_is_refused(api_as, personas):
    ticket = factories.ticket(team=personas.billing)
    response = api_as(personas.alice).post(f"/api/v1/tickets/{ticket.pk}/messages", {"body": ""})
    assert response.status_code == 422 and response.json()["error"]["code"] == "empty_message"


def test_attachments_upload_download_and_the_size_limit(api_as, personas, client, settings):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = factories.ticket(team=personas.billing)
    api = api_as(personas.alice)
    upload = SimpleUploadedFile("notes.txt", b"hello file", content_type="text/plain")
    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/messages/upload",
        {"body": "see file", "files": [upload]},
        **api.headers,
    )
    assert response.status_code == 201, response.content
    url = response.json()["attachments"][0]["url"]
    download = client.get(url, **api.headers)
    assert b"".join(download.streaming_content) == b"hello file"
    assert client.get(url, **api_as(personas.carol).headers).status_code == 404
    settings.CAREDESK_MAX_ATTACHMENT_BYTES = 1024
    big = SimpleUploadedFile("big.bin", b"x" * 2048, content_type="application/octet-stream")
    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/messages/upload",
        {"body": "big", "files": [big]},
        **api.headers,
    )
    assert (
        response.status_code == 413 and response.json()["error"]["code"] == "attachment_too_large"
    )
    assert ticket.messages.count() == 2


def test_a_30_mb_attachment_is_refused(api_as, personas, client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    ticket = factories.ticket(team=personas.billing)
    huge = SimpleUploadedFile(
        "huge.bin", b"\0" * (30 * 1024 * 1024), content_type="application/octet-stream"
    )
    response = client.post(
        f"/api/v1/tickets/{ticket.pk}/messages/upload",
        {"body": "huge", "files": [huge]},
        **api_as(personas.alice).headers,
    )
    assert response.status_code == 413
    assert ticket.messages.count() == 1


def test_ticket_outside_the_agents_teams_is_404(api_as, personas):
    ticket = factories.ticket(team=personas.technical)
    api = api_as(personas.alice)
    assert api.get(f"/api/v1/tickets/{ticket.pk}").status_code == 404
    assert api.patch(f"/api/v1/tickets/{ticket.pk}", {"priority": "low"}).status_code == 404
    assert api.post(f"/api/v1/tickets/{ticket.pk}/messages", {"body": "x"}).status_code == 404
    assert api_as(personas.carol).get(f"/api/v1/tickets/{ticket.pk}").status_code == 200


def test_list_filters_and_walks_pages_without_gaps(api_as, personas):
    ids = {factories.ticket(team=personas.billing, priority=2).pk for _ in range(7)}
    factories.ticket(team=personas.technical)
    api = api_as(personas.alice)
    seen, cursor = [], None
    while True:
        url = "/api/v1/tickets?limit=3&priority=high" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url).json()
        seen += [t["id"] for t in page["items"]]
        cursor = page["next"]
        if not cursor:
            break
    assert sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    assert api.get("/api/v1/tickets?limit=500").status_code == 422
    # The sorts are an enumeration in the OpenAPI document, so a bad one fails validation.
    bad_sort = api.get("/api/v1/tickets?sort=bogus").json()["error"]
    assert bad_sort["code"] == "validation_failed" and "sort" in bad_sort["message"]
    assert api.get("/api/v1/tickets?cursor=garbage").json()["error"]["code"] == "bad_cursor"


def test_list_query_count_does_not_grow_with_rows(api_as, personas, django_assert_max_num_queries):
    requester = create_customer(name="Lots", email="lots@example.test")
    for _ in range(30):
        factories.ticket(team=personas.billing, requester=requester, tags=["a", "b"])
    api = api_as(personas.alice)
    with django_assert_max_num_queries(8):
        response = api.get("/api/v1/tickets?limit=30")
    assert len(response.json()["items"]) == 30
