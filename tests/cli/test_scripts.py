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
