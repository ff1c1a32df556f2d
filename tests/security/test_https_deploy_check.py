"""`caredesk check --deploy` warns when the site looks served over HTTPS but CAREDESK_HTTPS is
off, so the session cookie is not Secure (issue #17, item 13)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import run_checks

REPO = Path(__file__).resolve().parents[2]


def deploy_warnings() -> list[str]:
    return [m.id for m in run_checks(include_deployment_checks=True) if m.id.startswith("caredesk")]


@pytest.mark.parametrize(
    "overrides",
    [
        {"BASE_URL": "https://support.example.com"},
        {"CSRF_TRUSTED_ORIGINS": ["https://support.example.com"]},
        {"SECURE_PROXY_SSL_HEADER": ("HTTP_X_FORWARDED_PROTO", "https")},
    ],
)
def test_it_warns_when_https_is_suggested_and_the_cookie_is_not_secure(settings, overrides):
    settings.SESSION_COOKIE_SECURE = False
    settings.BASE_URL = "http://127.0.0.1:8000"
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = None
    for name, value in overrides.items():
        setattr(settings, name, value)
    assert deploy_warnings() == ["caredesk.W001"]


def test_it_is_quiet_with_secure_cookies_or_a_plain_http_site(settings):
    settings.BASE_URL = "https://support.example.com"
    settings.SESSION_COOKIE_SECURE = True
    assert deploy_warnings() == []
    settings.SESSION_COOKIE_SECURE = False
    settings.BASE_URL = "http://127.0.0.1:8000"
    settings.CSRF_TRUSTED_ORIGINS = []
    settings.SECURE_PROXY_SSL_HEADER = None
    assert deploy_warnings() == []


def test_it_is_a_deploy_check_only(settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.BASE_URL = "https://support.example.com"
    assert not [m for m in run_checks() if m.id == "caredesk.W001"]


def run_check(tmp_path: Path, **env: str) -> str:
    environment = {
        **os.environ,
        "CAREDESK_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "caredesk.settings",
        "PYTHONPATH": str(REPO),
        **env,
    }
    for name in ("DATABASE_URL", "REDIS_URL", "CAREDESK_HTTPS"):
        if name not in env:
            environment.pop(name, None)
    done = subprocess.run(
        [sys.executable, "-m", "caredesk", "check", "--deploy"],
        cwd=REPO,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return done.stdout + done.stderr


def test_the_caredesk_command_reports_it_from_the_environment(tmp_path):
    out = run_check(tmp_path, CAREDESK_BASE_URL="https://support.example.com")
    assert "caredesk.W001" in out
    assert "CAREDESK_HTTPS" in out
    fixed = run_check(tmp_path, CAREDESK_BASE_URL="https://support.example.com", CAREDESK_HTTPS="1")
    assert "caredesk.W001" not in fixed
    assert "security.W012" not in fixed  # the session cookie is Secure
