"""Which channel layer a process gets from its environment (settings are read in a fresh process)."""

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

SHOW = (
    "import json; from django.conf import settings; "
    "print(json.dumps(settings.CHANNEL_LAYERS['default']))"
)


def layer_for(**env: str) -> dict:
    clean = {
        k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CAREDESK_CHANNEL_PREFIX"}
    }
    out = subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); " + SHOW],
        cwd=REPO,
        env={**clean, "DJANGO_SETTINGS_MODULE": "caredesk.settings", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_redis_the_layer_is_in_memory():
    assert layer_for()["BACKEND"] == "caredesk.core.channel_layer.SweepingInMemoryChannelLayer"


def test_with_redis_the_layer_is_pub_sub_and_each_database_number_has_its_own_channels():
    on_3 = layer_for(REDIS_URL="redis://127.0.0.1:6379/3")
    on_4 = layer_for(REDIS_URL="redis://127.0.0.1:6379/4")
    on_default = layer_for(REDIS_URL="redis://127.0.0.1:6379")
    assert on_3["BACKEND"] == "caredesk.core.channel_layer.PipelinedPubSubChannelLayer"
    assert on_3["CONFIG"]["hosts"] == [{"address": "redis://127.0.0.1:6379/3"}]
    # Redis pub/sub ignores database numbers: without distinct prefixes two installations on one
    # Redis server would hear each other's pushes.
    assert (
        len({on_3["CONFIG"]["prefix"], on_4["CONFIG"]["prefix"], on_default["CONFIG"]["prefix"]})
        == 3
    )
    explicit = layer_for(REDIS_URL="redis://127.0.0.1:6379/3", CAREDESK_CHANNEL_PREFIX="site-a.")
    assert explicit["CONFIG"]["prefix"] == "site-a."
