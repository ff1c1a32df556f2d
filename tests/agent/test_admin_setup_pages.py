"""Workspace admin pages for macros, snippets, business hours and mailboxes: pickers by name,
clear errors for bad input, the saved object as the page said, and admins only."""

import pytest

from caredesk.automation.models import CannedResponse, Macro
from caredesk.channels.email.models import Mailbox
from caredesk.sla.models import BusinessHours

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, personas):
    client.force_login(personas.admin)
    return client


def _closed_week() -> dict[str, str]:
    return {f"day{d}_{end}{w}": "" for d in range(7) for w in (1, 2) for end in ("from", "to")}


def _macro_post(**rows: dict[str, str]) -> dict[str, str]:
    data = {"name": "Refund done", "owner": "", "reply": "Hi {{customer.first_name}}"}
    data["changes-TOTAL_FORMS"] = str(len(rows))
    data["changes-INITIAL_FORMS"] = "0"
    for i, row in enumerate(rows.values()):
        for key, value in row.items():
            data[f"changes-{i}-{key}"] = value
    return data


@pytest.mark.parametrize("section", ["macros", "snippets", "hours", "mailboxes"])
def test_setup_pages_are_for_admins_only(client, personas, section):
    CannedResponse.objects.create(shortcut="secret-snippet", title="t", body="hidden text")
    for user in (personas.alice, personas.lead):
        client.force_login(user)
        page = client.get(f"/agent/admin/{section}/")
        assert page.status_code == 403
        assert b"secret-snippet" not in page.content
        refused = client.post(
            "/agent/admin/snippets/", {"shortcut": "x", "title": "x", "body": "x"}
        )
        assert (
            refused.status_code == 403 and not CannedResponse.objects.filter(shortcut="x").exists()
        )
    client.force_login(personas.admin)
    page = client.get(f"/agent/admin/{section}/").content.decode()
    assert "Add" in page and 'href="/agent/admin/macros/"' in page


def test_macro_actions_are_rows_with_pickers_not_json(admin_client, personas):
    from caredesk.tickets.models import Tag

    Tag.objects.get_or_create(name="refund")
    page = admin_client.get("/agent/admin/macros/").content.decode()
    assert 'name="changes-0-field"' in page and '<option value="pending">' in page
    assert f'<option value="{personas.billing.pk}">Billing</option>' in page
    assert "Alice &lt;alice@example.test&gt;" in page
    assert '<option value="refund">refund</option>' in page
    assert "{&quot;" not in page and "JSON" not in page
    response = admin_client.post(
        "/agent/admin/macros/",
        _macro_post(
            a={"field": "status", "status": "pending"},
            b={"field": "team", "team": str(personas.billing.pk)},
            c={"field": "assignee", "assignee": "me"},
            d={"field": "tags", "tags": "refund"},
            e={"field": "priority", "priority": "high"},
        ),
    )
    assert response.status_code == 302
    macro = Macro.objects.get(name="Refund done")
    assert macro.changes == {
        "status": "pending",
        "team": personas.billing.pk,
        "assignee": "me",
        "tags": ["refund"],
        "priority": "high",
    }
    listing = admin_client.get("/agent/admin/macros/").content.decode()
    assert "Refund done" in listing
    edit = admin_client.get(f"/agent/admin/macros/{macro.pk}/").content.decode()
    # The stored changes come back as rows with their pickers set.
    assert '<option value="pending" selected>' in edit
    assert f'<option value="{personas.billing.pk}" selected>Billing</option>' in edit
    assert '<option value="me" selected>' in edit


def test_macro_bad_input_is_refused_with_a_message_and_nothing_saved(admin_client, personas):
    missing = admin_client.post("/agent/admin/macros/", _macro_post(a={"field": "team"}))
    assert missing.status_code == 422
    assert "Pick the team to set." in missing.content.decode()
    twice = admin_client.post(
        "/agent/admin/macros/",
        _macro_post(
            a={"field": "status", "status": "pending"}, b={"field": "status", "status": "solved"}
        ),
    )
    assert "Status is set twice" in twice.content.decode()
    placeholder = _macro_post(a={"field": "status", "status": "open"})
    placeholder["reply"] = "Hi {{customer.shoe_size}}"
    bad = admin_client.post("/agent/admin/macros/", placeholder)
    assert (
        bad.status_code == 422
        and "Unknown placeholder {{customer.shoe_size}}" in bad.content.decode()
    )
    # What was typed is still on the page.
    assert "Hi {{customer.shoe_size}}" in bad.content.decode()
    assert not Macro.objects.exists()


def test_macro_add_row_without_script_and_delete(admin_client, personas):
    data = _macro_post(a={"field": "status", "status": "pending"})
    data["add_row"] = "changes"
    page = admin_client.post("/agent/admin/macros/", data).content.decode()
    assert 'name="changes-1-field"' in page and not Macro.objects.exists()
    macro = Macro.objects.create(name="Old", changes={"status": "solved"})
    admin_client.post(f"/agent/admin/macros/{macro.pk}/", {"delete": "1"})
    assert not Macro.objects.filter(pk=macro.pk).exists()


def test_snippet_page_validates_and_saves(admin_client, personas):
    bad = admin_client.post(
        "/agent/admin/snippets/", {"shortcut": "Refund policy!", "title": "t", "body": "b"}
    )
    assert bad.status_code == 422
    assert "Lowercase letters, digits, - and _ only" in bad.content.decode()
    unknown = admin_client.post(
        "/agent/admin/snippets/", {"shortcut": "hi", "title": "Hi", "body": "{{ticket.colour}}"}
    )
    assert "Unknown placeholder {{ticket.colour}}" in unknown.content.decode()
    ok = admin_client.post(
        "/agent/admin/snippets/",
        {"shortcut": "hi", "title": "Hello", "body": "Hi {{customer.first_name}}", "owner": ""},
    )
    assert ok.status_code == 302
    snippet = CannedResponse.objects.get(shortcut="hi")
    assert snippet.owner is None and snippet.body == "Hi {{customer.first_name}}"
    clash = admin_client.post(
        "/agent/admin/snippets/", {"shortcut": "hi", "title": "Again", "body": "x"}
    )
    assert "There is already a shared snippet ::hi." in clash.content.decode()
    mine = admin_client.post(
        "/agent/admin/snippets/",
        {"shortcut": "hi", "title": "Mine", "body": "x", "owner": str(personas.alice.pk)},
    )
    assert mine.status_code == 302
    listing = admin_client.get("/agent/admin/snippets/").content.decode()
    assert "Hello" in listing and "Alice" in listing


def test_business_hours_week_grid_time_zone_and_holidays(admin_client, personas):
    page = admin_client.get("/agent/admin/hours/").content.decode()
    assert '<option value="Europe/Berlin">Europe/Berlin</option>' in page
    assert "Germany (DE)" in page and "Monday" in page and "Sunday" in page
    data = {
        "name": "Berlin office",
        "team": str(personas.billing.pk),
        "time_zone": "Europe/Berlin",
        "country": "DE",
        "subdivision": "by",
        "custom_holidays": "2026-12-24\n2026-12-31",
        **_closed_week(),
        "day0_from1": "09:00",
        "day0_to1": "12:00",
        "day0_from2": "13:00",
        "day0_to2": "17:30",
        "day4_from1": "10:00",
        "day4_to1": "24:00",
    }
    assert admin_client.post("/agent/admin/hours/", data).status_code == 302
    hours = BusinessHours.objects.get(name="Berlin office")
    assert hours.team == personas.billing and hours.time_zone == "Europe/Berlin"
    assert hours.schedule == {
        "0": [["09:00", "12:00"], ["13:00", "17:30"]],
        "4": [["10:00", "24:00"]],
    }
    assert hours.country == "DE" and hours.subdivision == "BY"
    assert hours.custom_holidays == ["2026-12-24", "2026-12-31"]
    edit = admin_client.get(f"/agent/admin/hours/{hours.pk}/").content.decode()
    assert '<option value="13:00" selected>' in edit and "2026-12-31" in edit


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"day0_from1": "17:00", "day0_to1": "09:00"}, "Monday: the closing time is after 17:00."),
        ({"day2_from1": "09:00"}, "Wednesday: pick both the opening and closing time."),
        ({"custom_holidays": "24/12/2026"}, "“24/12/2026” is not a date"),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice."),
        ({"country": "DE", "subdivision": "ZZ"}, "DE has no region ZZ"),
        ({}, "Open on at least one day."),
    ],
)
def test_business_hours_bad_input_gets_a_clear_message(admin_client, change, message):
    data = {"name": "Hours", "time_zone": "UTC", "country": "", **_closed_week(), **change}
    response = admin_client.post("/agent/admin/hours/", data)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not BusinessHours.objects.exists()


def test_mailbox_page_validates_and_keeps_the_password(admin_client, personas):
    base = {
        "address": "Help@Shop.example",
        "name": "Shop help",
        "team": str(personas.billing.pk),
        "active": "on",
        "protocol": "imap",
        "host": "",
        "username": "",
        "folder": "INBOX",
    }
    bad = admin_client.post("/agent/admin/mailboxes/", base)
    assert bad.status_code == 422
    text = bad.content.decode()
    assert "Polling needs the server." in text and "Polling needs the password." in text
    assert not Mailbox.objects.exists()
    good = {**base, "host": "imap.shop.example", "username": "help", "password": "s3cret"}
    assert admin_client.post("/agent/admin/mailboxes/", good).status_code == 302
    box = Mailbox.objects.get()
    assert box.address == "help@shop.example" and box.team == personas.billing
    assert box.password == "s3cret"
    edit = admin_client.get(f"/agent/admin/mailboxes/{box.pk}/").content.decode()
    assert "s3cret" not in edit  # never sent back to the browser
    assert (
        admin_client.post(
            f"/agent/admin/mailboxes/{box.pk}/", {**good, "password": "", "name": "Renamed"}
        ).status_code
        == 302
    )
    box.refresh_from_db()
    assert box.name == "Renamed" and box.password == "s3cret"
    listing = admin_client.get("/agent/admin/mailboxes/").content.decode()
    assert "help@shop.example" in listing and "Poll with IMAP" in listing
    assert '<span class="badge yes">Yes</span>' in listing and ">True<" not in listing
    dup = admin_client.post("/agent/admin/mailboxes/", {**good, "address": "help@shop.example"})
    assert dup.status_code == 422 and "already exists" in dup.content.decode()


def test_macro_page_queries_do_not_grow_with_its_rows(admin_client, personas):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from caredesk.tickets.models import Tag

    Tag.objects.create(name="refund")
    few = Macro.objects.create(name="Few", changes={"status": "pending"})
    many = Macro.objects.create(
        name="Many",
        changes={
            "status": "pending",
            "priority": "high",
            "team": personas.billing.pk,
            "assignee": personas.alice.pk,
            "tags": ["refund"],
            "category": "billing",
        },
    )
    admin_client.get(f"/agent/admin/macros/{few.pk}/")

    def count(macro):
        with CaptureQueriesContext(connection) as queries:
            page = admin_client.get(f"/agent/admin/macros/{macro.pk}/").content.decode()
        return len(queries), page

    few_count, _ = count(few)
    many_count, page = count(many)
    assert '<option value="refund" selected>refund</option>' in page
    assert many_count == few_count, (few_count, many_count)
