"""TOTP two-factor: a confirmed device must be verified; admins can require enrolment."""

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from caredesk.accounts.models import SecurityPolicy
from tests import factories

pytestmark = pytest.mark.django_db


def _code(device):
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def test_agent_with_a_device_must_verify_before_the_workspace(client):
    agent = factories.agent()
    device = TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)
    client.force_login(agent)
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/verify/")
    bad = client.post("/agent/2fa/verify/", {"code": "000000", "next": "/agent/"})
    assert bad.status_code == 400
    device.refresh_from_db()
    assert device.throttling_failure_count == 1  # a wrong code slows down guessing
    device.throttle_reset()
    good = client.post("/agent/2fa/verify/", {"code": _code(device), "next": "/agent/"})
    assert good.status_code == 302 and good["Location"] == "/agent/"
    assert not client.get("/agent/").get("Location", "").startswith("/agent/2fa/")


def test_required_two_factor_sends_agents_without_a_device_to_enrol(client):
    SecurityPolicy.objects.update_or_create(pk=1, defaults={"require_two_factor": True})
    agent = factories.agent()
    client.force_login(agent)
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/setup/")
    client.get("/agent/2fa/setup/")
    device = TOTPDevice.objects.get(user=agent)
    done = client.post("/agent/2fa/setup/", {"code": _code(device), "next": "/evil.test/"})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed


def test_next_parameter_cannot_redirect_off_site(client):
    agent = factories.agent()
    device = TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)
    client.force_login(agent)
    response = client.post(
        "/agent/2fa/verify/", {"code": _code(device), "next": "https://evil.test/"}
    )
    assert response["Location"] == "/agent/"


def test_admin_switches_the_requirement_on_in_the_django_admin(client):
    admin = factories.agent(role="admin")
    client.force_login(admin)
    policy = SecurityPolicy.current()
    response = client.post(
        f"/django-admin/accounts/securitypolicy/{policy.pk}/change/", {"require_two_factor": "on"}
    )
    assert response.status_code == 302
    assert SecurityPolicy.current().require_two_factor
