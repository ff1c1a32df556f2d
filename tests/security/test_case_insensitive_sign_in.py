"""Sign-in ignores the letter case of the address, for agents and for portal customers, and an
address cannot be registered twice in different letter case (issue #17, item 12)."""

import pytest
from django.core import mail
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from caredesk.accounts.models import User
from caredesk.core.errors import Conflict
from caredesk.customers.services import create_customer
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()


def agent_login(client, username, password=factories.PASSWORD, ip="127.0.0.1"):
    return client.post(
        "/agent/login/", {"username": username, "password": password}, REMOTE_ADDR=ip
    )


@pytest.mark.parametrize(
    "typed", ["Ann.Agent@Example.TEST", "  ann.agent@example.test ", "ANN.AGENT@EXAMPLE.TEST"]
)
def test_an_agent_signs_in_with_the_address_in_any_case(client, typed):
    ann = factories.agent(email="ann.agent@example.test", name="Ann Agent")
    response = agent_login(client, typed)
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(ann.pk)
    assert "Ann Agent" in client.get("/agent/", follow=True).content.decode()


def test_the_wrong_password_is_still_refused_in_any_case(client):
    factories.agent(email="ann.agent@example.test")
    response = agent_login(client, "Ann.Agent@Example.test", "not the password")
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "didn't match" in response.content.decode().replace("&#x27;", "'")


def test_failures_in_other_letter_case_count_towards_one_lockout(client, settings):
    settings.AXES_FAILURE_LIMIT = 3
    factories.agent(email="ann.agent@example.test")
    # From three places, so only the count per address can lock the account.
    for i, typed in enumerate(
        ("ann.agent@example.test", "Ann.Agent@example.test", "ANN.AGENT@EXAMPLE.TEST")
    ):
        agent_login(client, typed, "wrong password", ip=f"192.0.2.{i + 1}")
    response = agent_login(client, "ann.agent@example.test", ip="192.0.2.9")
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_an_agent_address_is_stored_lower_case_and_cannot_be_taken_twice():
    factories.agent(email="ann.agent@example.test")
    other = User(email="Ann.Agent@Example.TEST", name="Impostor")
    with pytest.raises(ValidationError) as info:
        other.full_clean()
    assert "email" in info.value.message_dict
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="ANN.AGENT@example.test", name="Impostor")
    new = User.objects.create(email="New.Agent@Example.TEST", name="New")
    new.refresh_from_db()
    assert new.email == "new.agent@example.test"


def test_a_customer_gets_the_portal_link_with_the_address_in_any_case(client):
    sam = factories.customer(email="sam.customer@example.test", name="Sam")
    factories.ticket(requester=sam, subject="Where is my parcel")
    response = client.post("/help/signin/", {"email": "Sam.Customer@EXAMPLE.test"})
    assert "on its way" in response.content.decode()
    assert [m.to for m in mail.outbox] == [["sam.customer@example.test"]]
    link = mail.outbox[0].body.split("/help/auth/", 1)[1].split("/", 1)[0]
    assert client.get(f"/help/auth/{link}/").status_code == 302
    assert "Where is my parcel" in client.get("/help/requests/").content.decode()


def test_a_customer_address_cannot_be_registered_twice_in_other_case():
    create_customer(name="Sam", email="sam.customer@example.test")
    with pytest.raises(Conflict):
        create_customer(name="Impostor", email="SAM.Customer@Example.test")
