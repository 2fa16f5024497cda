"""Clarion settings.

Every setting comes from the environment and has a default that works in a fresh
checkout (SQLite under ``var/``, console email, database task queue). README.md lists
each variable. Outside debug and demo mode a secret key must be given.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


VAR_DIR = Path(os.environ.get("CLARION_VAR_DIR", PROJECT_DIR / "var"))
DEBUG = env_bool("CLARION_DEBUG")
DEMO = env_bool("CLARION_DEMO")


def _secret_key() -> str:
    key = os.environ.get("CLARION_SECRET_KEY", "")
    if key:
        return key
    if not (DEBUG or DEMO):
        raise ImproperlyConfigured(
            "CLARION_SECRET_KEY is not set. Set it to a long random string "
            "(python -c 'import secrets; print(secrets.token_urlsafe(50))'), "
            "or set CLARION_DEMO=1 for a local demo."
        )
    # Debug and demo installs keep a generated key on disk so sessions survive restarts.
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(50))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = env_list("CLARION_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CLARION_CSRF_TRUSTED_ORIGINS")
SITE_URL = os.environ.get("CLARION_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
ORGANISATION_NAME = os.environ.get("CLARION_ORGANISATION_NAME", "Clarion")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "django_tasks",
    "django_tasks_db",
    "django_rq",
    "clarion.core",
    "clarion.areas",
    "clarion.people",
    "clarion.actions",
    "clarion.donations",
    "clarion.qa",
    "clarion.mailings",
    "clarion.events",
    "clarion.api",
]

MIDDLEWARE = [
    # First, so a lost database anywhere below (sessions, auth, views) answers a
    # friendly 503 and the next request reconnects (clarion/core/faults.py).
    "clarion.core.faults.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Answers the audience's live feed before sessions, auth and CSRF (it uses none).
    "clarion.qa.middleware.LiveFeedMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "clarion.core.middleware.StaffTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "clarion.core.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "clarion.urls"
WSGI_APPLICATION = "clarion.wsgi.application"
ASGI_APPLICATION = "clarion.asgi.application"

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
                "clarion.core.context_processors.clarion",
            ],
        },
    },
]

# Database: SQLite under var/ unless DATABASE_URL says otherwise.
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("CLARION_SQLITE_PATH", str(VAR_DIR / "clarion.sqlite3")),
        }
    }
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process read while a worker writes; IMMEDIATE makes writers
        # queue on the lock instead of failing with "database is locked" mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    # Tests use a database file, not Django's shared in-memory default: the browser
    # tests' live server answers several requests at once, and with one shared
    # in-memory connection two of them would share a single transaction.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-clarion.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
if REDIS_URL:
    CACHES = {
        "default": {
            # Django's, reusing one Redis client per pool (see clarion/core/cache.py).
            "BACKEND": "clarion.core.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "clarion",
        }
    }
else:
    # The database cache is shared by every process, so rate limits hold across
    # web and worker processes without Redis.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "clarion_cache",
        }
    }

# Background tasks: the database backend needs no extra service; RQ scales out.
TASK_BACKEND = os.environ.get("CLARION_TASK_BACKEND", "database")
if TASK_BACKEND == "rq":
    if not REDIS_URL:
        raise ImproperlyConfigured("CLARION_TASK_BACKEND=rq needs REDIS_URL.")
    TASKS = {
        # RQ, falling back to a database outbox while Redis is away (core/outbox.py).
        "default": {"BACKEND": "clarion.core.outbox.OutboxRQBackend", "QUEUES": ["default"]},
        "outbox": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": []},
    }
elif TASK_BACKEND == "immediate":
    TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
elif TASK_BACKEND == "database":
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
else:
    raise ImproperlyConfigured(
        f"CLARION_TASK_BACKEND must be database, rq or immediate, not {TASK_BACKEND!r}."
    )
RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 3600}}

AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "core:home"
LOGOUT_REDIRECT_URL = "core:login"
if env_bool("CLARION_TEST_FAST_HASHER"):
    # Tests only: a deliberately weak hasher so thousands of logins don't dominate the run.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
CLARION_REQUIRE_2FA = env_bool("CLARION_REQUIRE_2FA")
LOGIN_MAX_FAILURES = int(os.environ.get("CLARION_LOGIN_MAX_FAILURES", "5"))
LOGIN_LOCKOUT_SECONDS = int(os.environ.get("CLARION_LOGIN_LOCKOUT_SECONDS", "900"))
if os.environ.get("CLARION_LOGIN_MAX_IP_FAILURES"):
    # Failures one address may make per window; unset means 4 × LOGIN_MAX_FAILURES.
    LOGIN_MAX_IP_FAILURES = int(os.environ["CLARION_LOGIN_MAX_IP_FAILURES"])
OTP_TOTP_ISSUER = ORGANISATION_NAME

SESSION_COOKIE_AGE = int(os.environ.get("CLARION_SESSION_SECONDS", str(12 * 3600)))
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE = env_bool("CLARION_SECURE", default=not (DEBUG or DEMO))
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
SECURE_SSL_REDIRECT = SECURE and env_bool("CLARION_SSL_REDIRECT", default=True)
SECURE_HSTS_SECONDS = int(os.environ.get("CLARION_HSTS_SECONDS", "31536000" if SECURE else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
BEHIND_PROXY = env_bool("CLARION_BEHIND_PROXY")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = os.environ.get("CLARION_LANGUAGE", "en-gb")
LANGUAGES = [("en-gb", "English"), ("cy", "Cymraeg")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("CLARION_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("CLARION_STATIC_ROOT", VAR_DIR / "static"))
# clarion/static is the project's own static folder (the clarion package is not an app).
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(os.environ.get("CLARION_MEDIA_ROOT", VAR_DIR / "media"))
# Hashed, compressed static files need `collectstatic` (done by `clarion serve`); debug
# runs and tests serve straight from the app folders instead.
STATIC_MANIFEST = env_bool("CLARION_STATIC_MANIFEST", default=not DEBUG)
PRIVATE_ROOT = Path(os.environ.get("CLARION_PRIVATE_ROOT", VAR_DIR / "private"))
for _public_root in (MEDIA_ROOT, STATIC_ROOT):
    if PRIVATE_ROOT.resolve().is_relative_to(_public_root.resolve()):
        raise ImproperlyConfigured(
            f"CLARION_PRIVATE_ROOT ({PRIVATE_ROOT}) is inside {_public_root}, which is served "
            "to anyone. Put private files in a folder of their own, outside media and static."
        )


def _private_file_retention_days() -> int:
    raw = os.environ.get("CLARION_PRIVATE_FILE_RETENTION_DAYS", "").strip() or "30"
    if not raw.isdigit() or int(raw) < 1:
        raise ImproperlyConfigured(
            f"CLARION_PRIVATE_FILE_RETENTION_DAYS must be a whole number of days, 1 or more "
            f"(it is {raw!r}). Import files and reject files older than this are deleted."
        )
    return int(raw)


# Uploaded import files and reject files are deleted this many days after the import.
CLARION_PRIVATE_FILE_RETENTION_DAYS = _private_file_retention_days()
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Personal-data files (imports, rejects): never under MEDIA_URL; see core/storage.py.
    "private": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": PRIVATE_ROOT, "base_url": None},
    },
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if STATIC_MANIFEST
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
WHITENOISE_USE_FINDERS = not STATIC_MANIFEST
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
DATA_UPLOAD_MAX_NUMBER_FIELDS = 2000

EMAIL_HOST = os.environ.get("CLARION_EMAIL_HOST", "")
if EMAIL_HOST:
    # SMTP through the connection pool bulk mailings use; transactional mail goes first.
    EMAIL_BACKEND = "clarion.mailings.sending.backend.EmailBackend"
    EMAIL_PORT = int(os.environ.get("CLARION_EMAIL_PORT", "25"))
    EMAIL_HOST_USER = os.environ.get("CLARION_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = os.environ.get("CLARION_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = env_bool("CLARION_EMAIL_TLS")
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
DEFAULT_FROM_EMAIL = os.environ.get("CLARION_FROM_EMAIL", "Clarion <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Imports larger than this many bytes run in the background task queue.
IMPORT_INLINE_MAX_BYTES = int(os.environ.get("CLARION_IMPORT_INLINE_MAX_BYTES", str(256 * 1024)))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("CLARION_LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
        "rq.worker": {"level": "WARNING"},
    },
}

# --- Donations (donations part) ---------------------------------------------------
# Payment gateway: "test" (built-in, no money moves; the demo default) or "stripe".
CLARION_PAYMENT_GATEWAY = os.environ.get("CLARION_PAYMENT_GATEWAY", "test")
if CLARION_PAYMENT_GATEWAY not in ("test", "stripe"):
    raise ImproperlyConfigured("CLARION_PAYMENT_GATEWAY must be test or stripe.")
CLARION_STRIPE_SECRET_KEY = os.environ.get("CLARION_STRIPE_SECRET_KEY", "")
CLARION_STRIPE_WEBHOOK_SECRET = os.environ.get("CLARION_STRIPE_WEBHOOK_SECRET", "")
CLARION_STRIPE_API_BASE = os.environ.get("CLARION_STRIPE_API_BASE", "https://api.stripe.com")
# Donations at or above this (in pence), or taking a donor's calendar-year total to it,
# are flagged for a permissibility check (UK: £500).
CLARION_PERMISSIBILITY_THRESHOLD_PENCE = int(
    os.environ.get("CLARION_PERMISSIBILITY_THRESHOLD_PENCE", "50000")
)
# The largest single online donation accepted, in pence.
CLARION_DONATION_MAX_PENCE = int(os.environ.get("CLARION_DONATION_MAX_PENCE", "1000000"))

# --- Mailings (mailings part) -----------------------------------------------------
# Bounces come back to bounces+<signed token>@CLARION_MAILINGS_VERP_DOMAIN, which must
# route (MX) to `clarion inbound`. The mailto of List-Unsubscribe uses the same domain.
CLARION_MAILINGS_VERP_DOMAIN = os.environ.get("CLARION_MAILINGS_VERP_DOMAIN", "bounces.localhost")
# DKIM: a PEM private key file, its selector and signing domain (unset: no signature).
CLARION_MAILINGS_DKIM_KEY_FILE = os.environ.get("CLARION_MAILINGS_DKIM_KEY_FILE", "")
CLARION_MAILINGS_DKIM_SELECTOR = os.environ.get("CLARION_MAILINGS_DKIM_SELECTOR", "clarion")
CLARION_MAILINGS_DKIM_DOMAIN = os.environ.get("CLARION_MAILINGS_DKIM_DOMAIN", "")
# Global bulk throttle across every worker, messages per second (0 = no limit).
CLARION_MAILINGS_RATE_PER_SECOND = int(os.environ.get("CLARION_MAILINGS_RATE_PER_SECOND", "0"))
# Parallel senders (SMTP connections) per mailing, rows claimed per batch, and rows
# in flight at once per sender (the most a killed worker can leave uncertain).
CLARION_MAILINGS_SENDERS = int(os.environ.get("CLARION_MAILINGS_SENDERS", "2"))
CLARION_MAILINGS_BATCH = int(os.environ.get("CLARION_MAILINGS_BATCH", "200"))
CLARION_MAILINGS_WINDOW = int(os.environ.get("CLARION_MAILINGS_WINDOW", "20"))
# Pipelined SMTP connections per worker process (bulk and transactional mail share
# them), and how long one deliver task runs before handing its slot to a fresh task.
CLARION_MAILINGS_CONNECTIONS = int(os.environ.get("CLARION_MAILINGS_CONNECTIONS", "1"))
CLARION_MAILINGS_SLICE_SECONDS = int(os.environ.get("CLARION_MAILINGS_SLICE_SECONDS", "30"))
# A sender that has not renewed its lease for this long is taken for dead.
CLARION_MAILINGS_LEASE_SECONDS = int(os.environ.get("CLARION_MAILINGS_LEASE_SECONDS", "60"))
CLARION_MAILINGS_MAX_ATTEMPTS = int(os.environ.get("CLARION_MAILINGS_MAX_ATTEMPTS", "5"))
# Soft bounces suppress an address after N within D days (a hard bounce after one).
CLARION_MAILINGS_SOFT_BOUNCES = int(os.environ.get("CLARION_MAILINGS_SOFT_BOUNCES", "3"))
CLARION_MAILINGS_SOFT_BOUNCE_DAYS = int(os.environ.get("CLARION_MAILINGS_SOFT_BOUNCE_DAYS", "14"))
# Where `clarion inbound` listens (SMTP; --lmtp for LMTP behind an MTA).
CLARION_MAILINGS_INBOUND_HOST = os.environ.get("CLARION_MAILINGS_INBOUND_HOST", "127.0.0.1")
CLARION_MAILINGS_INBOUND_PORT = int(os.environ.get("CLARION_MAILINGS_INBOUND_PORT", "2525"))
# Provider webhooks (django-anymail tracking) at /m/esp/<esp>/tracking/ for the one
# email provider named here (e.g. "mailgun", "postmark"; unset: none accepted). Its
# webhook keys come from CLARION_ANYMAIL_<SETTING>, e.g.
# CLARION_ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY or CLARION_ANYMAIL_WEBHOOK_SECRET.
CLARION_MAILINGS_ESP = os.environ.get("CLARION_MAILINGS_ESP", "")
ANYMAIL = {
    k[len("CLARION_ANYMAIL_") :]: v
    for k, v in os.environ.items()
    if k.startswith("CLARION_ANYMAIL_")
}

# --- API ----------------------------------------------------------------------------
# Requests one API key may make per minute before it gets 429 with Retry-After.
CLARION_API_RATE_PER_MINUTE = int(os.environ.get("CLARION_API_RATE_PER_MINUTE", "600"))

# --- Geocoding ----------------------------------------------------------------------
# A postcodes.io-compatible service asked for postcodes the offline table lacks
# (empty: the table only), its timeout in seconds, and how long answers are cached.
CLARION_GEOCODER_URL = os.environ.get("CLARION_GEOCODER_URL", "").rstrip("/")
CLARION_GEOCODER_TIMEOUT = float(os.environ.get("CLARION_GEOCODER_TIMEOUT", "3"))
CLARION_GEOCODER_CACHE_SECONDS = int(
    os.environ.get("CLARION_GEOCODER_CACHE_SECONDS", str(7 * 86400))
)

# --- Local groups -------------------------------------------------------------------
# Joins through a public group page: per address per 10 minutes, per mailbox per hour.
CLARION_GROUPS_IP_LIMIT = int(os.environ.get("CLARION_GROUPS_IP_LIMIT", "30"))
CLARION_GROUPS_EMAIL_LIMIT = int(os.environ.get("CLARION_GROUPS_EMAIL_LIMIT", "5"))

# --- Action pages -------------------------------------------------------------------
# Submissions per client address and per email address within a window (seconds),
# and how long a page's shown count may lag behind the true count.
CLARION_ACTION_IP_LIMIT = int(os.environ.get("CLARION_ACTION_IP_LIMIT", "60"))
CLARION_ACTION_IP_WINDOW = int(os.environ.get("CLARION_ACTION_IP_WINDOW", "600"))
CLARION_ACTION_EMAIL_LIMIT = int(os.environ.get("CLARION_ACTION_EMAIL_LIMIT", "5"))
CLARION_ACTION_EMAIL_WINDOW = int(os.environ.get("CLARION_ACTION_EMAIL_WINDOW", "3600"))
CLARION_ACTION_COUNT_SECONDS = int(os.environ.get("CLARION_ACTION_COUNT_SECONDS", "2"))
