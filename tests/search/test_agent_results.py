"""The agent search page: ticket results show number, status, requester, team and last update;
filters (status, channel, team, updated dates) narrow them inside the visibility rule; customer
results name the address once; the page's queries do not grow with the number of results."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from caredesk.tickets.models import Ticket
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice_client(client, personas):
    client.force_login(personas.alice)
    return client


def _rows(page: str, kind: str) -> list[str]:
    return [chunk.split("</tr>")[0] for chunk in page.split(f'data-hit="{kind}"')[1:]]


def _row_of(page: str, ticket: Ticket) -> str:
    return next(row for row in _rows(page, "ticket") if f"#{ticket.pk}<" in row)


def test_ticket_results_show_number_status_requester_team_and_update(
    alice_client, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        requester = factories.customer(name="Gus Gearbox", email="gus@example.test")
        ticket = factories.ticket(
            team=personas.billing, requester=requester, subject="Gearbox rattles"
        )
        hidden = factories.ticket(team=personas.technical, subject="Gearbox secret")
    Ticket.objects.filter(pk=ticket.pk).update(
        status="pending", updated_at=datetime(2026, 3, 4, 10, 30, tzinfo=UTC)
    )
    page = alice_client.get("/agent/search/?q=gearbox").content.decode()
    row = _row_of(page, ticket)
    assert "Gearbox rattles" in row and f"#{ticket.pk}" in row
    assert ">Pending<" in row and "Gus Gearbox" in row and ">Billing<" in row
    assert "2026-03-04" in row
    for heading in ("Number", "Status", "Requester", "Updated"):
        assert f'<th scope="col">{heading}</th>' in page
    assert "Gearbox secret" not in page and f"#{hidden.pk}<" not in page


def test_filters_narrow_the_ticket_results(
    alice_client, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        email = factories.ticket(team=personas.billing, subject="Invoice copy", channel="email")
        chat = factories.ticket(team=personas.billing, subject="Invoice chat", channel="chat")
        unrouted = factories.ticket(subject="Invoice unrouted", channel="email")
        factories.customer(name="Ivy Invoice")
    Ticket.objects.filter(pk=chat.pk).update(status="solved")
    old = datetime.now(UTC) - timedelta(days=40)
    Ticket.objects.filter(pk=unrouted.pk).update(updated_at=old)

    def shown(query: str) -> set[int]:
        page = alice_client.get(f"/agent/search/?q=invoice{query}").content.decode()
        ids = {t.pk for t in (email, chat, unrouted) if f"#{t.pk}<" in page}
        return ids | ({-1} if 'data-hit="customer"' in page else set())

    assert shown("") == {email.pk, chat.pk, unrouted.pk, -1}
    # Any filter lists tickets only.
    assert shown("&status=solved") == {chat.pk}
    assert shown("&channel=email") == {email.pk, unrouted.pk}
    assert shown(f"&team={personas.billing.pk}") == {email.pk, chat.pk}
    since = (datetime.now(UTC) - timedelta(days=7)).date().isoformat()
    assert shown(f"&updated_from={since}") == {email.pk, chat.pk}
    until = (old + timedelta(days=1)).date().isoformat()
    assert shown(f"&updated_to={until}") == {unrouted.pk}
    assert shown(f"&channel=email&team={personas.billing.pk}") == {email.pk}
    # The filters never widen what the agent may see.
    assert shown(f"&team={personas.technical.pk}") == set()
    page = alice_client.get("/agent/search/?q=invoice&status=solved").content.decode()
    assert '<option value="solved" selected>' in page and "Clear filters" in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("&updated_from=31/12/2026", "Updated from: a date like 2026-01-31."),
        ("&updated_from=2026-05-02&updated_to=2026-05-01", "is after the “until” date"),
        ("&status=exploded", "Select a valid choice. exploded is not one of the available"),
    ],
)
def test_bad_filters_get_a_clear_message(alice_client, personas, query, message):
    response = alice_client.get(f"/agent/search/?q=invoice{query}")
    assert response.status_code == 400
    assert message in response.content.decode()


def test_a_customer_result_names_the_address_once(
    alice_client, personas, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        named = factories.customer(
            name="Olga Otter", email="olga@otters.example", notes="Kayak club"
        )
        bare = factories.customer(name="", email="nameless@otters.example", notes="Kayak club")
    page = alice_client.get("/agent/search/?q=kayak").content.decode()
    rows = _rows(page, "customer")
    named_row = next(r for r in rows if f"/agent/customers/{named.pk}/" in r)
    bare_row = next(r for r in rows if f"/agent/customers/{bare.pk}/" in r)
    assert "Olga Otter" in named_row and named_row.count("olga@otters.example") == 1
    assert bare_row.count("nameless@otters.example") == 1


def test_the_index_does_not_repeat_the_address_as_an_identity(personas):
    from caredesk.search.models import SearchDocument

    customer = factories.customer(name="Rita Repeat", email="rita@example.test")
    from caredesk.search.services import index_customer

    index_customer(customer)
    body = SearchDocument.objects.get(kind="customer", object_id=customer.pk).body
    assert body.count("rita@example.test") == 1


def test_results_page_queries_do_not_grow_with_the_results(
    alice_client, personas, django_capture_on_commit_callbacks
):
    def count(query: str) -> int:
        alice_client.get(f"/agent/search/?q={query}")  # warm the per-process caches
        with CaptureQueriesContext(connection) as queries:
            page = alice_client.get(f"/agent/search/?q={query}").content.decode()
        return len(queries), page

    with django_capture_on_commit_callbacks(execute=True):
        for i in range(3):
            factories.ticket(team=personas.billing, subject=f"Sprocket {i}")
            factories.customer(name=f"Sprocket Sam {i}")
        for i in range(25):
            factories.ticket(
                team=personas.billing,
                requester=factories.customer(name=f"Req {i}"),
                subject=f"Flange {i}",
            )
            factories.customer(name=f"Flange Fan {i}")
    few, few_page = count("sprocket")
    many, many_page = count("flange")
    assert few_page.count('data-hit="ticket"') == 3
    assert many_page.count('data-hit="ticket"') + many_page.count('data-hit="customer"') == 30
    assert many == few, (few, many)
    assert many <= 12, many
