"""Security headers on every response: CSP without inline scripts, framing denied, referrer policy."""

import pytest

pytestmark = pytest.mark.django_db


def test_csp_forbids_inline_and_remote_scripts(client):
    response = client.get("/api/v1/health")
    csp = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";") if part.strip())
    assert directives["script-src"] == "'self'"
    assert "unsafe-inline" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"


def test_framing_referrer_and_sniffing_headers(client):
    response = client.get("/api/v1/health")
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Content-Type-Options"] == "nosniff"


def test_hsts_when_behind_tls(client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    response = client.get("/api/v1/health", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_api_docs_load_without_a_cdn(client):
    body = client.get("/api/docs").content.decode()
    assert "cdn" not in body.lower()
    assert "/static/ninja/swagger-ui-bundle.js" in body
