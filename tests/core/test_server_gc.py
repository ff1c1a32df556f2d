"""The server process's collector settings (docs/decisions/0014), read in a fresh process."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_loading_the_asgi_application_freezes_start_up_and_raises_the_thresholds():
    out = subprocess.run(
        [
            sys.executable,
            "-c",
            "import gc, json; before = gc.get_freeze_count(); import caredesk.asgi; "
            "print(json.dumps([before, gc.get_freeze_count(), gc.get_threshold()]))",
        ],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "caredesk.settings"},
        capture_output=True,
        text=True,
        check=True,
    )
    before, frozen, threshold = json.loads(out.stdout.strip().splitlines()[-1])
    assert before == 0
    assert frozen > 10_000  # Django, Channels and the apps
    assert threshold == [10_000, 50, 100]
