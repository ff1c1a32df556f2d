"""Settings: everything comes from the environment, with defaults that work on one small box.

SQLite in CAREDESK_DATA_DIR unless DATABASE_URL is set; Redis (channel layer, cache,
Huey queue) only when REDIS_URL is set.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DATA_DIR = Path(env_str("CAREDESK_DATA_DIR", str(Path.cwd() / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """Use CAREDESK_SECRET_KEY, else a key generated once and kept in the data dir."""
    configured = env_str("CAREDESK_SECRET_KEY")
    if configured:
        return configured
    key_file = DATA_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("CAREDESK_DEBUG", False)
ALLOWED_HOSTS = env_list("CAREDESK_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CAREDESK_CSRF_TRUSTED_ORIGINS", "")
BASE_URL = env_str("CAREDESK_BASE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "huey.contrib.djhuey",
    "channels",
    "anymail",
    "ninja",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "caredesk.core",
    "caredesk.operations",
    "caredesk.accounts",
    "caredesk.customers",
    "caredesk.tickets",
    "caredesk.search",
    "caredesk.channels.email",
    "caredesk.channels.chat",
    "caredesk.channels.sms",
    "caredesk.routing",
    "caredesk.sla",
    "caredesk.automation",
    "caredesk.knowledge",
    "caredesk.assist",
    "caredesk.surveys",
    "caredesk.compliance",
    "caredesk.agent",
    "caredesk.portal",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "caredesk.core.middleware.DropMalformedCookiesMiddleware",
    "caredesk.core.middleware.RejectNulCharactersMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "caredesk.accounts.twofactor.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "caredesk.core.idempotency.IdempotencyMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: turns lockouts into a clear 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "caredesk.urls"
ASGI_APPLICATION = "caredesk.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    }
]

# Database: SQLite in WAL mode with IMMEDIATE transactions (no upgrade deadlocks), or DATABASE_URL.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=env_int("CAREDESK_DB_CONN_MAX_AGE", 60)
        )
    }
    # Under ASGI every worker thread would keep its own persistent connection (and run the
    # server out of connections under load): PostgreSQL uses psycopg's pool unless turned off.
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and env_bool(
        "CAREDESK_DB_POOL", True
    ):
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
            "min_size": 2,
            "max_size": env_int("CAREDESK_DB_POOL_SIZE", 10),
        }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATA_DIR / "caredesk.sqlite3"),
            # Keep each thread's connection: opening one (pragmas, Django's SQL functions) costs
            # more than most queries, and the WebSocket consumers would pay it on every call.
            "CONN_MAX_AGE": env_int("CAREDESK_DB_CONN_MAX_AGE", 600),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": {
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
                "init_command": (
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; "
                    "PRAGMA foreign_keys=ON; PRAGMA cache_size=-20000; PRAGMA temp_store=MEMORY;"
                ),
            },
        }
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Backups: Django's JSON with full timestamp precision (loaded back by the standard JSON loader).
SERIALIZATION_MODULES = {"precisejson": "caredesk.core.precise_json"}
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "caredesk.accounts.backends.LoginThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "/agent/login/"
LOGIN_REDIRECT_URL = "/agent/"

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

REDIS_URL = env_str("REDIS_URL")

if REDIS_URL:
    CHANNEL_LAYERS = {
        "default": {
            # Redis pub/sub: a group send is one PUBLISH and each process reads what its sockets
            # subscribed to from one connection, instead of several round trips a message on
            # each side (docs/decisions/0013). Pushes are best effort either way: the database
            # holds the truth and clients resume by message id after a reconnect.
            "BACKEND": "caredesk.core.channel_layer.PipelinedPubSubChannelLayer",
            # Pub/sub channels are shared by every database of a Redis server: the prefix keeps
            # installations on different database numbers apart, as the keys of the cache are.
            "CONFIG": {
                "hosts": [{"address": REDIS_URL}],
                "prefix": env_str(
                    "CAREDESK_CHANNEL_PREFIX",
                    "caredesk" + (urlsplit(REDIS_URL).path.strip("/") or "0") + ".",
                ),
            },
        }
    }
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
    HUEY = {
        "huey_class": "huey.RedisHuey",
        "name": "caredesk",
        "url": REDIS_URL,
        "immediate": False,
        "consumer": {"workers": env_int("CAREDESK_WORKER_THREADS", 2), "worker_type": "thread"},
    }
else:
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "caredesk.core.channel_layer.SweepingInMemoryChannelLayer",
            "CONFIG": {"capacity": 1000},
        }
    }
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    HUEY = {
        "huey_class": "huey.SqliteHuey",
        "name": "caredesk",
        "filename": str(DATA_DIR / "queue.sqlite3"),
        "immediate": env_bool("CAREDESK_HUEY_IMMEDIATE", False),
        "consumer": {"workers": env_int("CAREDESK_WORKER_THREADS", 2), "worker_type": "thread"},
    }

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "/media/"

# Uploads: size and type limits for every attachment, whichever channel it came from.
CAREDESK_MAX_ATTACHMENT_BYTES = env_int("CAREDESK_MAX_ATTACHMENT_BYTES", 25 * 1024 * 1024)
CAREDESK_BLOCKED_ATTACHMENT_EXTENSIONS = env_list(
    "CAREDESK_BLOCKED_ATTACHMENT_EXTENSIONS", ".exe,.bat,.cmd,.com,.scr,.js,.vbs,.msi,.ps1,.jar"
)
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("CAREDESK_MAX_REQUEST_BYTES", 40 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024

# SMS through Twilio: the REST API's base URL (a stub on 127.0.0.1 in tests); MMS media too.
CAREDESK_TWILIO_API_BASE = env_str("CAREDESK_TWILIO_API_BASE", "https://api.twilio.com")

# Email
EMAIL_BACKEND = env_str("CAREDESK_EMAIL_BACKEND", "django.core.mail.backends.smtp.EmailBackend")
EMAIL_HOST = env_str("CAREDESK_EMAIL_HOST", "127.0.0.1")
EMAIL_PORT = env_int("CAREDESK_EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("CAREDESK_EMAIL_USER")
EMAIL_HOST_PASSWORD = env_str("CAREDESK_EMAIL_PASSWORD")
EMAIL_USE_TLS = env_bool("CAREDESK_EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = env_str("CAREDESK_DEFAULT_FROM_EMAIL", "support@demo.caredesk.test")
# The local mail sink (docs/configuration.md): "auto" writes outbound mail as .eml files into
# CAREDESK_EMAIL_SINK_DIR instead of sending it while the demo data set is loaded and no mail
# server is configured here; "on" always, "off" never.
CAREDESK_EMAIL_SINK = env_str("CAREDESK_EMAIL_SINK", "auto").lower()
if CAREDESK_EMAIL_SINK == "auto" and (
    os.environ.get("CAREDESK_EMAIL_HOST") or os.environ.get("CAREDESK_EMAIL_BACKEND")
):
    CAREDESK_EMAIL_SINK = "off"
CAREDESK_EMAIL_SINK_DIR = Path(env_str("CAREDESK_EMAIL_SINK_DIR", str(DATA_DIR / "sent-mail")))
# The outbox (docs/decisions/0016): tries per delivery before it is shown as failed, and how
# long a delivery may wait past its time before the sweep hands it out again.
CAREDESK_OUTBOX_MAX_ATTEMPTS = env_int("CAREDESK_OUTBOX_MAX_ATTEMPTS", 8)
CAREDESK_OUTBOX_GRACE_SECONDS = env_int("CAREDESK_OUTBOX_GRACE_SECONDS", 60)
CAREDESK_SMTP_HOST = env_str("CAREDESK_SMTP_HOST", "127.0.0.1")
CAREDESK_SMTP_PORT = env_int("CAREDESK_SMTP_PORT", 2525)
# Writer threads of each SMTP listener process. One: the mail that arrives while it writes forms
# the next batch, written with one statement per table; more writers make smaller batches and
# contend for the interpreter lock (measured: docs/benchmarks.md).
CAREDESK_SMTP_WRITERS = env_int("CAREDESK_SMTP_WRITERS", 1)
# Listener processes sharing the SMTP port (SO_REUSEPORT, Linux), each with its own interpreter
# lock: on PostgreSQL, 2 on two cores gave 5-35 % more; on SQLite, which has one writer at a
# time, keep 1 (docs/channels/email.md).
CAREDESK_SMTP_PROCESSES = env_int("CAREDESK_SMTP_PROCESSES", 1)
# Provider webhooks: Mailgun signs with its webhook signing key; Postmark, SendGrid and Amazon SES
# use HTTP basic auth ("user:password" in CAREDESK_WEBHOOK_SECRET, part of the webhook URL).
ANYMAIL = {
    key: value
    for key, value in {
        "MAILGUN_WEBHOOK_SIGNING_KEY": env_str("CAREDESK_MAILGUN_WEBHOOK_SIGNING_KEY"),
        "WEBHOOK_SECRET": env_str("CAREDESK_WEBHOOK_SECRET"),
    }.items()
    if value
}
CAREDESK_EMAIL_THREAD_FALLBACK = env_str("CAREDESK_EMAIL_THREAD_FALLBACK", "sender_subject")
CAREDESK_EMAIL_SENDER_RATE = env_int("CAREDESK_EMAIL_SENDER_RATE", 60)
CAREDESK_EMAIL_MAX_BYTES = env_int("CAREDESK_EMAIL_MAX_BYTES", 40 * 1024 * 1024)
# `caredesk serve` on SIGTERM: seconds to let requests and WebSocket consumers finish.
CAREDESK_SHUTDOWN_GRACE_SECONDS = env_int("CAREDESK_SHUTDOWN_GRACE_SECONDS", 10)

# An agent shown online or away with no open workspace for this long goes offline.
CAREDESK_PRESENCE_GRACE_SECONDS = env_int("CAREDESK_PRESENCE_GRACE_SECONDS", 120)

# Security defaults (HTTPS-only settings switch on with CAREDESK_HTTPS=1 behind TLS).
HTTPS = env_bool("CAREDESK_HTTPS", False)
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = env_int("CAREDESK_SESSION_SECONDS", 12 * 3600)
SECURE_HSTS_SECONDS = 31536000 if HTTPS else 0
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if HTTPS else None
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("CAREDESK_LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}, "huey": {"level": "WARNING"}},
}

# Login throttling and lockout (django-axes): an account locks after repeated failures.
AXES_FAILURE_LIMIT = env_int("CAREDESK_LOGIN_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_int("CAREDESK_LOGIN_LOCKOUT_MINUTES", 15) / 60
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_USERNAME_FORM_FIELD = "username"
AXES_USERNAME_CALLABLE = "caredesk.accounts.backends.login_username"
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "caredesk.accounts.backends.lockout_response"
AXES_VERBOSE = False

# API token guessing: failed bearer-token sign-ins per client address and window (shared cache).
CAREDESK_API_TOKEN_FAILURE_LIMIT = env_int("CAREDESK_API_TOKEN_FAILURE_LIMIT", 20)
CAREDESK_API_TOKEN_FAILURE_WINDOW = env_int("CAREDESK_API_TOKEN_FAILURE_WINDOW", 300)

# Two-factor: admins can require TOTP for everyone (or set CAREDESK_REQUIRE_2FA=1).
CAREDESK_REQUIRE_2FA = env_bool("CAREDESK_REQUIRE_2FA", False)
OTP_TOTP_ISSUER = "caredesk"

# Content-Security-Policy (django-csp): no inline or remote scripts anywhere.
CSP_DEFAULT_SRC = ("'self'",)
CSP_SCRIPT_SRC = ("'self'",)
# Inline style attributes are allowed (the API docs page needs them); inline scripts never are.
CSP_STYLE_SRC = ("'self'", "'unsafe-inline'")
CSP_IMG_SRC = ("'self'", "data:", "blob:")
CSP_CONNECT_SRC = ("'self'",)
CSP_FONT_SRC = ("'self'",)
CSP_OBJECT_SRC = ("'none'",)
CSP_BASE_URI = ("'self'",)
CSP_FORM_ACTION = ("'self'",)
CSP_FRAME_ANCESTORS = ("'none'",)

# Secrets at rest (mailbox passwords, API keys, webhook secrets) are encrypted with this key.
CAREDESK_ENCRYPTION_KEY = env_str("CAREDESK_ENCRYPTION_KEY")

# PII redaction at ingestion: national id formats to redact, by country code (us, uk, de, fr, es, nl, in).
CAREDESK_PII_NATIONAL_IDS = env_list("CAREDESK_PII_NATIONAL_IDS", "us,uk")
