"""The project's scripts share the machine with other work: they stop only what they started."""

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = [
    *sorted((REPO / "scripts").glob("*.sh")),
    REPO / "Makefile",
    *sorted((REPO / ".ci").glob("*")),
]
# Stopping processes by name (or all of a user's) would take down other people's servers.
BY_NAME = re.compile(r"\b(pkill|killall|pgrep\s[^|]*\|\s*xargs\s+kill)\b")


@pytest.mark.parametrize("script", [p for p in SCRIPTS if p.is_file()], ids=lambda p: p.name)
def test_no_script_stops_processes_by_name(script):
    offending = [
        line.strip()
        for line in script.read_text(errors="replace").splitlines()
        if BY_NAME.search(line) and not line.lstrip().startswith("#")
    ]
    assert not offending, f"{script.name} stops processes by name: {offending}"


def test_browser_test_screenshots_never_land_in_the_tracked_docs(monkeypatch, tmp_path):
    # Importing the browser tests' conftest sets this for its own process; keep it to this test.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    monkeypatch.delenv("CAREDESK_SCREENSHOTS_DIR", raising=False)
    from tests.e2e.conftest import screenshot

    class Page:  # stands in for Playwright's page: writes what it is asked to
        def screenshot(self, path: str, full_page: bool) -> None:
            self.path = Path(path)
            self.path.write_bytes(b"png")

    page = Page()
    name = f"hygiene-{tmp_path.name}.png"
    screenshot(page, name)
    try:
        assert page.path.exists() and not page.path.resolve().is_relative_to(REPO)
        assert not (REPO / "docs" / "screenshots" / name).exists()
    finally:
        page.path.unlink(missing_ok=True)
    monkeypatch.setenv("CAREDESK_SCREENSHOTS_DIR", str(tmp_path))  # scripts/screenshots.sh's way
    screenshot(page, name)
    assert page.path == tmp_path / name


def test_hypothesis_data_is_not_tracked():
    import subprocess

    tracked = subprocess.run(
        ["git", "ls-files", ".hypothesis", ".venv"], cwd=REPO, capture_output=True, text=True
    )
    if tracked.returncode != 0:
        pytest.skip("not a git checkout")
    assert tracked.stdout == ""
