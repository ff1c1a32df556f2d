"""Test settings: a throwaway data dir per process, fast hashing, jobs run inline, mail in memory.

Set CAREDESK_TEST_DB=postgres (with CAREDESK_TEST_DATABASE_URL) to run the suite on PostgreSQL.
"""

import os
import tempfile

os.environ["CAREDESK_DATA_DIR"] = tempfile.mkdtemp(prefix="caredesk-test-")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)
if os.environ.get("CAREDESK_TEST_DB") == "postgres":
    url = os.environ.get("CAREDESK_TEST_DATABASE_URL")
    if not url:
        raise RuntimeError("CAREDESK_TEST_DB=postgres needs CAREDESK_TEST_DATABASE_URL")
    os.environ["DATABASE_URL"] = url

from caredesk.settings import *  # noqa: E402,F403
from caredesk.settings import DATABASES, HUEY  # noqa: E402

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
HUEY = {**HUEY, "immediate": True}
WHITENOISE_AUTOREFRESH = True

if os.environ.get("CAREDESK_TEST_DB") == "postgres":
    # A per-checkout name so parallel runs on one server do not collide.
    DATABASES["default"]["TEST"] = {
        "NAME": "test_caredesk_" + os.environ.get("CAREDESK_TEST_DB_SUFFIX", "main")
    }
