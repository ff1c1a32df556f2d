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


# The middleware answers "has a confirmed device?" and "is 2FA required?" from the cache and the
# session instead of the database on every request; every change must still take effect.


def _signed_in(client, agent):
    client.force_login(agent)
    assert client.get("/agent/").status_code == 200  # the session now remembers "no device"
    return client


def test_a_device_enrolled_elsewhere_takes_effect_on_the_next_request(client):
    agent = factories.agent()
    _signed_in(client, agent)
    TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/verify/")


def test_the_device_stamp_changes_again_when_the_change_is_committed(
    client, django_capture_on_commit_callbacks
):
    from django.core.cache import cache

    from caredesk.accounts.twofactor import _stamp_key

    agent = factories.agent()
    _signed_in(client, agent)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        TOTPDevice.objects.create(user=agent, name="phone", confirmed=False)
    saved = cache.get(_stamp_key(agent.pk))
    for callback in callbacks:
        callback()
    assert cache.get(_stamp_key(agent.pk)) not in (None, saved)


def test_a_device_the_signals_miss_is_found_within_the_recheck_time(client, monkeypatch):
    from caredesk.accounts import twofactor

    agent = factories.agent()
    _signed_in(client, agent)
    # bulk_create sends no signal, so the stamp stays; the session's answer expires.
    TOTPDevice.objects.bulk_create([TOTPDevice(user=agent, name="phone", confirmed=True)])
    assert client.get("/agent/").status_code == 200
    now = twofactor.time.time()
    monkeypatch.setattr(twofactor.time, "time", lambda: now + twofactor.RECHECK_SECONDS + 1)
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/verify/")


def test_a_revoked_or_disabled_device_no_longer_verifies_the_session(client):
    SecurityPolicy.objects.update_or_create(pk=1, defaults={"require_two_factor": True})
    agent = factories.agent()
    device = TOTPDevice.objects.create(user=agent, name="phone", confirmed=True)
    client.force_login(agent)
    assert client.post("/agent/2fa/verify/", {"code": _code(device)}).status_code == 302
    assert client.get("/agent/").status_code == 200
    spare = TOTPDevice.objects.create(user=agent, name="spare", confirmed=True)
    device.confirmed = False  # disabled by an admin
    device.save()
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/verify/")
    spare.delete()  # revoked: nothing left, and 2FA is required
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/setup/")


def test_switching_the_requirement_on_takes_effect_on_the_next_request(client):
    agent = factories.agent()
    _signed_in(client, agent)
    assert client.get("/agent/").status_code == 200  # the policy is now cached as "not required"
    policy = SecurityPolicy.current()
    policy.require_two_factor = True
    policy.save()
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/setup/")


def test_the_setting_requires_2fa_whatever_the_cached_policy_says(client, settings):
    agent = factories.agent()
    _signed_in(client, agent)
    settings.CAREDESK_REQUIRE_2FA = True
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/setup/")


def test_a_remembered_answer_is_not_trusted_under_another_stamp(client):
    from caredesk.accounts.twofactor import SESSION_KEY

    agent = factories.agent()
    _signed_in(client, agent)
    TOTPDevice.objects.bulk_create([TOTPDevice(user=agent, name="phone", confirmed=True)])
    session = client.session
    session[SESSION_KEY] = ["forged-stamp", session[SESSION_KEY][1]]
    session.save()
    response = client.get("/agent/")
    assert response.status_code == 302 and response["Location"].startswith("/agent/2fa/verify/")
