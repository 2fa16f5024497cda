"""Clarion settings.

Every setting comes from the environment and has a default that works in a fresh
checkout (SQLite under ``var/``, console email, database task queue). README.md lists
each variable. Outside debug and demo mode a secret key must be given. Variables are
read only through ``clarion.environment`` (environs), so a bad value stops start-up
with one line naming the variable and what it must be.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from clarion import environment as env

BASE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = BASE_DIR.parent

VAR_DIR = env.path("CLARION_VAR_DIR", PROJECT_DIR / "var")
DEBUG = env.switch("CLARION_DEBUG")
DEMO = env.switch("CLARION_DEMO")


def _secret_key() -> str:
    key = env.text("CLARION_SECRET_KEY")
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
ALLOWED_HOSTS = env.text_list("CLARION_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env.text_list("CLARION_CSRF_TRUSTED_ORIGINS")
SITE_URL = env.url("CLARION_SITE_URL", "http://127.0.0.1:8000", schemes=("https", "http"))
SITE_URL = SITE_URL.rstrip("/")
ORGANISATION_NAME = env.text("CLARION_ORGANISATION_NAME", "Clarion")

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
    "clarion.groups",
    "clarion.engagement",
    "clarion.members",
    "clarion.journeys",
    "clarion.demo",
    "clarion.reports",
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
DATABASE_URL = env.text("DATABASE_URL")
_database = env.database("DATABASE_URL")
if _database:
    DATABASES = {"default": _database}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": env.text("CLARION_SQLITE_PATH", str(VAR_DIR / "clarion.sqlite3")),
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

REDIS_URL = env.url("REDIS_URL", "", schemes=("redis", "rediss", "unix"))
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
TASK_BACKEND = env.choice("CLARION_TASK_BACKEND", "database", ("database", "rq", "immediate"))
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
else:
    TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
RQ_QUEUES = {"default": {"URL": REDIS_URL or "redis://127.0.0.1:6379/0", "DEFAULT_TIMEOUT": 3600}}

AUTH_USER_MODEL = "core.User"
LOGIN_URL = "core:login"
LOGIN_REDIRECT_URL = "reports:home"
LOGOUT_REDIRECT_URL = "core:login"
if env.switch("CLARION_TEST_FAST_HASHER"):
    # Tests only: a deliberately weak hasher so thousands of logins don't dominate the run.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
CLARION_REQUIRE_2FA = env.switch("CLARION_REQUIRE_2FA")
LOGIN_MAX_FAILURES = env.integer("CLARION_LOGIN_MAX_FAILURES", 5, minimum=1)
LOGIN_LOCKOUT_SECONDS = env.integer("CLARION_LOGIN_LOCKOUT_SECONDS", 900)
# Failures one address may make per window; unset means 4 × LOGIN_MAX_FAILURES.
_login_max_ip_failures = env.integer("CLARION_LOGIN_MAX_IP_FAILURES", None, minimum=1)
if _login_max_ip_failures is not None:
    LOGIN_MAX_IP_FAILURES = _login_max_ip_failures
OTP_TOTP_ISSUER = ORGANISATION_NAME

SESSION_COOKIE_AGE = env.integer("CLARION_SESSION_SECONDS", 12 * 3600, minimum=1)
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SECURE = env.switch("CLARION_SECURE", default=not (DEBUG or DEMO))
SESSION_COOKIE_SECURE = SECURE
CSRF_COOKIE_SECURE = SECURE
# Read even when not secure, so a bad value is refused whatever the other settings.
_ssl_redirect = env.switch("CLARION_SSL_REDIRECT", default=True)
SECURE_SSL_REDIRECT = SECURE and _ssl_redirect
SECURE_HSTS_SECONDS = env.integer("CLARION_HSTS_SECONDS", 31536000 if SECURE else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE
SECURE_HSTS_PRELOAD = SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
BEHIND_PROXY = env.switch("CLARION_BEHIND_PROXY")
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    USE_X_FORWARDED_HOST = True
X_FRAME_OPTIONS = "DENY"

LANGUAGE_CODE = env.text("CLARION_LANGUAGE", "en-gb")
LANGUAGES = [("en-gb", "English"), ("cy", "Cymraeg")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = env.text("CLARION_TIME_ZONE", "Europe/London")
USE_I18N = True
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = env.path("CLARION_STATIC_ROOT", VAR_DIR / "static")
# clarion/static is the project's own static folder (the clarion package is not an app).
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("CLARION_MEDIA_ROOT", VAR_DIR / "media")
# Hashed, compressed static files need `collectstatic` (done by `clarion serve`); debug
# runs and tests serve straight from the app folders instead.
STATIC_MANIFEST = env.switch("CLARION_STATIC_MANIFEST", default=not DEBUG)
PRIVATE_ROOT = env.path("CLARION_PRIVATE_ROOT", VAR_DIR / "private")
for _public_root in (MEDIA_ROOT, STATIC_ROOT):
    if PRIVATE_ROOT.resolve().is_relative_to(_public_root.resolve()):
        raise ImproperlyConfigured(
            f"CLARION_PRIVATE_ROOT ({PRIVATE_ROOT}) is inside {_public_root}, which is served "
            "to anyone. Put private files in a folder of their own, outside media and static."
        )

# Uploaded import files and reject files are deleted this many days after the import.
CLARION_PRIVATE_FILE_RETENTION_DAYS = env.integer(
    "CLARION_PRIVATE_FILE_RETENTION_DAYS", 30, minimum=1, unit="days"
)
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

EMAIL_HOST = env.text("CLARION_EMAIL_HOST", "")
if EMAIL_HOST:
    # SMTP through the connection pool bulk mailings use; transactional mail goes first.
    EMAIL_BACKEND = "clarion.mailings.sending.backend.EmailBackend"
    EMAIL_PORT = env.integer("CLARION_EMAIL_PORT", 25, minimum=1)
    EMAIL_HOST_USER = env.text("CLARION_EMAIL_USER", "")
    EMAIL_HOST_PASSWORD = env.text("CLARION_EMAIL_PASSWORD", "")
    EMAIL_USE_TLS = env.switch("CLARION_EMAIL_TLS")
    EMAIL_TIMEOUT = 30
else:
    EMAIL_BACKEND = "clarion.core.demo_mail.ConsoleBackend"  # console; a demo keeps copies
DEFAULT_FROM_EMAIL = env.text("CLARION_FROM_EMAIL", "Clarion <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Imports larger than this many bytes run in the background task queue.
IMPORT_INLINE_MAX_BYTES = env.integer("CLARION_IMPORT_INLINE_MAX_BYTES", 256 * 1024)

LOG_LEVEL = env.choice(
    "CLARION_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
)
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "WARNING"},
        "django_tasks": {"level": "WARNING"},
        "django_tasks_db": {"level": "WARNING"},
        "rq.worker": {"level": "WARNING"},
    },
}

# --- Donations (donations part) ---------------------------------------------------
# Payment gateway: "test" (built-in, no money moves; the demo default) or "stripe".
CLARION_PAYMENT_GATEWAY = env.choice("CLARION_PAYMENT_GATEWAY", "test", ("test", "stripe"))
CLARION_STRIPE_SECRET_KEY = env.text("CLARION_STRIPE_SECRET_KEY", "")
CLARION_STRIPE_WEBHOOK_SECRET = env.text("CLARION_STRIPE_WEBHOOK_SECRET", "")
CLARION_STRIPE_API_BASE = env.url(
    "CLARION_STRIPE_API_BASE", "https://api.stripe.com", schemes=("https", "http")
)
# Membership dues (docs/members.md, "Paying dues"). Card dues use the Stripe key and
# address above; their webhook endpoint (/members/join/webhooks/stripe/) has its own
# signing secret, falling back to the donations one when unset.
CLARION_STRIPE_MEMBERS_WEBHOOK_SECRET = env.text("CLARION_STRIPE_MEMBERS_WEBHOOK_SECRET", "")
# Direct Debit dues through GoCardless: an access token, "sandbox" or "live", and the
# webhook endpoint's secret. CLARION_GOCARDLESS_API_BASE overrides the environment's
# address (tests point it at a loopback stand-in).
CLARION_GOCARDLESS_ACCESS_TOKEN = env.text("CLARION_GOCARDLESS_ACCESS_TOKEN", "")
CLARION_GOCARDLESS_ENVIRONMENT = env.choice(
    "CLARION_GOCARDLESS_ENVIRONMENT", "sandbox", ("sandbox", "live")
)
CLARION_GOCARDLESS_WEBHOOK_SECRET = env.text("CLARION_GOCARDLESS_WEBHOOK_SECRET", "")
CLARION_GOCARDLESS_API_BASE = env.text("CLARION_GOCARDLESS_API_BASE", "")
# Donations at or above this (in pence), or taking a donor's calendar-year total to it,
# are flagged for a permissibility check (UK: £500).
CLARION_PERMISSIBILITY_THRESHOLD_PENCE = env.integer(
    "CLARION_PERMISSIBILITY_THRESHOLD_PENCE", 50000
)
# The largest single online donation accepted, in pence.
CLARION_DONATION_MAX_PENCE = env.integer("CLARION_DONATION_MAX_PENCE", 1000000)

# --- Mailings (mailings part) -----------------------------------------------------
# Bounces come back to bounces+<signed token>@CLARION_MAILINGS_VERP_DOMAIN, which must
# route (MX) to `clarion inbound`. The mailto of List-Unsubscribe uses the same domain.
CLARION_MAILINGS_VERP_DOMAIN = env.text("CLARION_MAILINGS_VERP_DOMAIN", "bounces.localhost")
# DKIM: a PEM private key file, its selector and signing domain (unset: no signature).
CLARION_MAILINGS_DKIM_KEY_FILE = env.text("CLARION_MAILINGS_DKIM_KEY_FILE", "")
CLARION_MAILINGS_DKIM_SELECTOR = env.text("CLARION_MAILINGS_DKIM_SELECTOR", "clarion")
CLARION_MAILINGS_DKIM_DOMAIN = env.text("CLARION_MAILINGS_DKIM_DOMAIN", "")
# Global bulk throttle across every worker, messages per second (0 = no limit).
CLARION_MAILINGS_RATE_PER_SECOND = env.integer("CLARION_MAILINGS_RATE_PER_SECOND", 0)
# Parallel senders (SMTP connections) per mailing, rows claimed per batch, and rows
# in flight at once per sender (the most a killed worker can leave uncertain).
CLARION_MAILINGS_SENDERS = env.integer("CLARION_MAILINGS_SENDERS", 2, minimum=1)
CLARION_MAILINGS_BATCH = env.integer("CLARION_MAILINGS_BATCH", 200, minimum=1)
CLARION_MAILINGS_WINDOW = env.integer("CLARION_MAILINGS_WINDOW", 20, minimum=1)
# Pipelined SMTP connections per worker process (bulk and transactional mail share
# them), and how long one deliver task runs before handing its slot to a fresh task.
CLARION_MAILINGS_CONNECTIONS = env.integer("CLARION_MAILINGS_CONNECTIONS", 1, minimum=1)
CLARION_MAILINGS_SLICE_SECONDS = env.integer("CLARION_MAILINGS_SLICE_SECONDS", 30)
# A sender that has not renewed its lease for this long is taken for dead.
CLARION_MAILINGS_LEASE_SECONDS = env.integer("CLARION_MAILINGS_LEASE_SECONDS", 60)
CLARION_MAILINGS_MAX_ATTEMPTS = env.integer("CLARION_MAILINGS_MAX_ATTEMPTS", 5, minimum=1)
# Soft bounces suppress an address after N within D days (a hard bounce after one).
CLARION_MAILINGS_SOFT_BOUNCES = env.integer("CLARION_MAILINGS_SOFT_BOUNCES", 3)
CLARION_MAILINGS_SOFT_BOUNCE_DAYS = env.integer("CLARION_MAILINGS_SOFT_BOUNCE_DAYS", 14)
# Where `clarion inbound` listens (SMTP; --lmtp for LMTP behind an MTA).
CLARION_MAILINGS_INBOUND_HOST = env.text("CLARION_MAILINGS_INBOUND_HOST", "127.0.0.1")
CLARION_MAILINGS_INBOUND_PORT = env.integer("CLARION_MAILINGS_INBOUND_PORT", 2525, minimum=1)
# Provider webhooks (django-anymail tracking) at /m/esp/<esp>/tracking/ for the one
# email provider named here (e.g. "mailgun", "postmark"; unset: none accepted). Its
# webhook keys come from CLARION_ANYMAIL_<SETTING>, e.g.
# CLARION_ANYMAIL_MAILGUN_WEBHOOK_SIGNING_KEY or CLARION_ANYMAIL_WEBHOOK_SECRET.
CLARION_MAILINGS_ESP = env.text("CLARION_MAILINGS_ESP", "")
ANYMAIL = env.prefixed("CLARION_ANYMAIL_")

# --- API ----------------------------------------------------------------------------
# Requests one API key may make per minute before it gets 429 with Retry-After.
CLARION_API_RATE_PER_MINUTE = env.integer("CLARION_API_RATE_PER_MINUTE", 600)

# --- Geocoding ----------------------------------------------------------------------
# A postcodes.io-compatible service asked for postcodes the offline table lacks
# (empty: the table only), its timeout in seconds, and how long answers are cached.
CLARION_GEOCODER_URL = env.url("CLARION_GEOCODER_URL", "", schemes=("https", "http")).rstrip("/")
CLARION_GEOCODER_TIMEOUT = env.number("CLARION_GEOCODER_TIMEOUT", 3.0)
CLARION_GEOCODER_CACHE_SECONDS = env.integer("CLARION_GEOCODER_CACHE_SECONDS", 7 * 86400)

# --- Local groups -------------------------------------------------------------------
# Joins through a public group page: per address per 10 minutes, per mailbox per hour.
CLARION_GROUPS_IP_LIMIT = env.integer("CLARION_GROUPS_IP_LIMIT", 30)
CLARION_GROUPS_EMAIL_LIMIT = env.integer("CLARION_GROUPS_EMAIL_LIMIT", 5)

# --- Action pages -------------------------------------------------------------------
# Submissions per client address and per email address within a window (seconds),
# and how long a page's shown count may lag behind the true count.
CLARION_ACTION_IP_LIMIT = env.integer("CLARION_ACTION_IP_LIMIT", 60)
CLARION_ACTION_IP_WINDOW = env.integer("CLARION_ACTION_IP_WINDOW", 600)
CLARION_ACTION_EMAIL_LIMIT = env.integer("CLARION_ACTION_EMAIL_LIMIT", 5)
CLARION_ACTION_EMAIL_WINDOW = env.integer("CLARION_ACTION_EMAIL_WINDOW", 3600)
CLARION_ACTION_COUNT_SECONDS = env.integer("CLARION_ACTION_COUNT_SECONDS", 2)

# --- Journeys -----------------------------------------------------------------------
# How long every wait lasts when a journey is tested with one person (seconds).
CLARION_JOURNEY_TEST_WAIT_SECONDS = env.integer(
    "CLARION_JOURNEY_TEST_WAIT_SECONDS", 60, unit="seconds"
)

# --- Membership ---------------------------------------------------------------------
# Days a member whose payment failed (or is overdue) stays a member before lapsing,
# and how many days before renews_on the renewal reminder is sent.
CLARION_MEMBERSHIP_GRACE_DAYS = env.integer("CLARION_MEMBERSHIP_GRACE_DAYS", 14, unit="days")
CLARION_MEMBERSHIP_REMINDER_DAYS = env.integer("CLARION_MEMBERSHIP_REMINDER_DAYS", 14, unit="days")
