"""Input the API used to answer with a 500 (found by fuzzing): each now gets a 4xx with a
message, and nothing is changed."""

import pytest

from caredesk.accounts.models import ApiToken
from caredesk.customers.models import Customer, Organization
from caredesk.knowledge.models import Article
from caredesk.tickets.models import CustomField
from tests import factories

pytestmark = pytest.mark.django_db


def _refused(response, status=422):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error"]["message"], body
    return body


@pytest.mark.parametrize("field", ["name", "language", "vip", "notes", "custom_fields"])
def test_null_in_a_customer_patch_is_refused(api_as, personas, field):
    customer = factories.customer(email="kim@example.test", name="Kim")
    response = api_as(personas.alice).patch(f"/api/v1/customers/{customer.pk}", {field: None})
    assert field in _refused(response)["error"]["message"]
    customer.refresh_from_db()
    assert customer.name == "Kim" and customer.custom_fields == {}


def test_null_organization_detaches_the_customer(api_as, personas):
    org = factories.organization("Acme")
    customer = factories.customer(email="kim@acme.test", organization=org)
    response = api_as(personas.alice).patch(
        f"/api/v1/customers/{customer.pk}", {"organization": None}
    )
    assert response.status_code == 200 and response.json()["organization_id"] is None


@pytest.mark.parametrize("field", ["name", "domain", "notes", "shared_tickets", "custom_fields"])
def test_null_in_an_organization_patch_is_refused(api_as, personas, field):
    org = factories.organization("Acme", domain="acme.test")
    response = api_as(personas.alice).patch(f"/api/v1/organizations/{org.pk}", {field: None})
    assert field in _refused(response)["error"]["message"]
    org.refresh_from_db()
    assert (org.name, org.domain) == ("Acme", "acme.test")


def test_renaming_an_organization_to_a_taken_name_is_a_conflict(api_as, personas):
    factories.organization("Acme")
    globex = factories.organization("Globex")
    response = api_as(personas.alice).patch(f"/api/v1/organizations/{globex.pk}", {"name": "Acme"})
    assert _refused(response, 409)["error"]["code"] == "conflict"
    assert Organization.objects.get(pk=globex.pk).name == "Globex"


@pytest.mark.parametrize(
    "field", ["name", "role", "tier", "teams", "skills", "languages", "capacity", "time_zone"]
)
def test_null_in_an_agent_patch_is_refused(api_as, personas, field):
    response = api_as(personas.admin).patch(f"/api/v1/agents/{personas.bob.pk}", {field: None})
    assert field in _refused(response)["error"]["message"]
    personas.bob.refresh_from_db()
    assert personas.bob.name == "Bob" and personas.bob.capacity == 10


@pytest.mark.parametrize("field", ["label", "choices", "required", "active", "position"])
def test_null_in_a_custom_field_patch_is_refused(api_as, personas, field):
    custom = CustomField.objects.create(key="plan", label="Plan")
    response = api_as(personas.admin).patch(f"/api/v1/custom-fields/{custom.pk}", {field: None})
    assert field in _refused(response)["error"]["message"]
    assert CustomField.objects.get(pk=custom.pk).label == "Plan"


@pytest.mark.parametrize("team", [2**63, 10**30, -(2**63) - 1])
def test_a_huge_team_filter_on_agents_is_refused(api_as, personas, team):
    response = api_as(personas.alice).get(f"/api/v1/agents?team={team}")
    assert response.status_code == 422, response.content


@pytest.mark.parametrize("reference", ["²", "١٢", "9" * 40])
def test_a_non_integer_article_reference_is_not_found(api_as, personas, reference):
    article = Article.objects.create(title="Refunds", slug="refunds", body="How to.")
    response = api_as(personas.admin).post(
        f"/api/v1/kb/articles/{article.pk}/related", {"article": reference}
    )
    assert _refused(response, 404)["error"]["code"] == "no_article"


@pytest.mark.parametrize("body", ["[null, null]", "[]", '"token"', "42", "null"])
def test_a_request_body_must_be_a_json_object(api_as, personas, body):
    api = api_as(personas.alice)
    before = ApiToken.objects.count()
    response = api.post("/api/v1/tokens", body)
    assert _refused(response, 400)["error"]["code"] == "body_not_object"
    assert ApiToken.objects.count() == before
    assert api.post("/api/v1/customers", body).status_code == 400
    assert not Customer.objects.exists()


def _parameter(schema, path, name):
    return next(
        p["schema"] for p in schema["paths"][path]["get"]["parameters"] if p["name"] == name
    )


def test_the_document_declares_the_limits_the_server_enforces(client):
    schema = client.get("/api/openapi.json").json()
    for path in ("/api/v1/tickets", "/api/v1/customers", "/api/v1/audit", "/api/v1/kb/articles"):
        limit = _parameter(schema, path, "limit")
        assert (limit["minimum"], limit["maximum"]) == (1, 200), path
    assert _parameter(schema, "/api/v1/search", "limit")["maximum"] == 100
    assert set(_parameter(schema, "/api/v1/tickets", "sort")["enum"]) == {
        "updated_at",
        "-updated_at",
        "created_at",
        "-created_at",
        "priority",
        "-priority",
    }
    team = _parameter(schema, "/api/v1/agents", "team")["anyOf"][0]
    assert team["maximum"] == 2**63 - 1
    patch = schema["components"]["schemas"]["CustomerPatch"]["properties"]
    assert patch["name"] == {"maxLength": 200, "title": "Name", "type": "string"}


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "sort=subject"])
def test_out_of_range_list_parameters_are_a_422_naming_them(api_as, personas, query):
    response = api_as(personas.alice).get(f"/api/v1/tickets?{query}")
    assert query.split("=")[0] in _refused(response)["error"]["message"]
