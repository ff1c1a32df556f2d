"""Browser tests: Playwright driving Debian's Chromium against a live server."""

import os
import tempfile
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"


def screenshot_dir() -> Path:
    """Where the browser tests save their screenshots: a temporary folder, so a test run never
    rewrites the tracked docs/screenshots; scripts/screenshots.sh points CAREDESK_SCREENSHOTS_DIR
    at docs/screenshots to refresh them on purpose."""
    chosen = os.environ.get("CAREDESK_SCREENSHOTS_DIR")
    if chosen:
        return Path(chosen)
    return Path(tempfile.gettempdir()) / "caredesk-screenshots"


# Playwright's sync API runs an event loop in this thread; the tests' own ORM calls are still sync.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        pytest.fail(
            "Debian chromium is not installed at /usr/bin/chromium (scripts/test.sh installs it)"
        )
    from playwright.sync_api import expect, sync_playwright

    # The suite runs two workers on two cores beside server processes: allow a busy machine.
    expect.set_options(timeout=15_000)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                "--no-first-run",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(15000)
    errors = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield page
    context.close()
    assert not [e for e in errors if "Content Security Policy" in e or "Refused" in e], errors


def sign_in(page, base_url: str, email: str, password: str) -> None:
    """Sign in to the agent workspace through its login form."""
    page.goto(f"{base_url}/agent/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/agent/")


def screenshot(page, name):
    folder = screenshot_dir()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / name), full_page=False)
