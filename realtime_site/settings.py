"""Settings: every deploy-specific value from the environment, working defaults for one machine.

See README.md, section "Configuration", for the variables.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

from realtime_site.env import env_bool, env_float, env_int, env_list, env_str
from realtime_site.mail import mail_settings

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("DJANGO_VAR_DIR", str(BASE_DIR / "var")))
# The embedded default keeps its SQLite file, mail and media here: a fresh clone has no var/.
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DJANGO_DEBUG", False)
PRODUCTION = env_bool("DJANGO_PRODUCTION", False)
if PRODUCTION and DEBUG:
    raise ImproperlyConfigured(
        "DJANGO_DEBUG must be off when DJANGO_PRODUCTION=1: debug pages show settings and code."
    )

SECRET_KEY = env_str("DJANGO_SECRET_KEY", required=PRODUCTION) or (
    "dev-only-insecure-key-set-DJANGO_SECRET_KEY-in-production"
)
# Never "*": it switches the WebSocket Origin check off (docs/architecture.md, trap 13).
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
if "*" in ALLOWED_HOSTS and PRODUCTION:
    raise ImproperlyConfigured(
        "DJANGO_ALLOWED_HOSTS must not contain '*' in production: it disables the Origin check."
    )
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", [])
USE_X_FORWARDED_HOST = env_bool("DJANGO_USE_X_FORWARDED_HOST", False)
if env_bool("DJANGO_SECURE_PROXY_SSL", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = env_bool("DJANGO_SECURE_COOKIES", PRODUCTION)

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "post_office",
    "jobs",
    "exports",
    "campaigns",
    "tokens",
    "consumers",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After the session user, before any view: a Bearer header on /api/ replaces it (tokens/).
    "tokens.middleware.AccessTokenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "realtime_site.urls"
ASGI_APPLICATION = "realtime_site.asgi.application"
CSRF_FAILURE_VIEW = "realtime_site.errors.csrf_failure"

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
    },
]

# --- database -------------------------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=0)}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Job threads write while requests write (docs/architecture.md, trap 4): WAL lets readers
    # run beside the writer, IMMEDIATE takes the write lock up front so the busy timeout
    # applies instead of a "database is locked" on lock upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": env_int("SQLITE_BUSY_TIMEOUT", 30),
    }
elif DATABASES["default"]["ENGINE"].endswith("postgresql") and env_bool("DATABASE_POOL", True):
    # Under ASGI every database_sync_to_async call (each WebSocket connect, sync, ping) opens
    # and closes its connection; a psycopg pool makes that a checkout (bench/fleet.py, ping RTT).
    # max_size covers the sync thread, JOBS_WORKERS job threads, campaign senders and the monitor.
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN", 2),
        "max_size": env_int("DATABASE_POOL_MAX", 20),
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0),
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- channel layer --------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL")
# Redis trouble must never block a thread for long (README "Deploying on several servers"): a
# dead or black-holed Redis fails a new connection after REDIS_CONNECT_TIMEOUT seconds, and an
# idle pub/sub connection is pinged so a half-open one is noticed and re-subscribed.
_REDIS_HOST = {
    "address": REDIS_URL,
    "socket_connect_timeout": env_float("REDIS_CONNECT_TIMEOUT", 2.0),
    "socket_keepalive": True,
    "health_check_interval": env_int("REDIS_HEALTH_CHECK_INTERVAL", 15),
}
# "pubsub" (default) or "core": see README "Choosing the Redis layer" for the measurement.
CHANNEL_LAYER_BACKEND = env_str("CHANNEL_LAYER_BACKEND", "pubsub")
if REDIS_URL:
    if CHANNEL_LAYER_BACKEND == "pubsub":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                "CONFIG": {"hosts": [_REDIS_HOST], "prefix": env_str("CHANNEL_LAYER_PREFIX", "rt")},
            }
        }
    elif CHANNEL_LAYER_BACKEND == "core":
        CHANNEL_LAYERS = {
            "default": {
                "BACKEND": "channels_redis.core.RedisChannelLayer",
                "CONFIG": {
                    "hosts": [_REDIS_HOST],
                    "prefix": env_str("CHANNEL_LAYER_PREFIX", "rt"),
                    "capacity": env_int("CHANNEL_LAYER_CAPACITY", 1000),
                },
            }
        }
    else:
        raise ImproperlyConfigured(
            f"CHANNEL_LAYER_BACKEND={CHANNEL_LAYER_BACKEND!r}: use 'pubsub' or 'core'."
        )
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# --- files ----------------------------------------------------------------------------------
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# daphne serves /static/ itself unless a front server does (the fleet's nginx).
SERVE_STATIC = env_bool("DJANGO_SERVE_STATIC", True)
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static")))
STORAGES = {
    "default": {"BACKEND": env_str("FILE_STORAGE", "django.core.files.storage.FileSystemStorage")},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

# --- mail -----------------------------------------------------------------------------------
def _email_settings() -> dict:
    """SMTP from EMAIL_URL (smtp://user:pass@host:port?tls=1) or EMAIL_HOST...; files otherwise."""
    url = env_str("EMAIL_URL")
    host = env_str("EMAIL_HOST")
    if url:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps", "submission"}:
            raise ImproperlyConfigured(f"EMAIL_URL scheme {parts.scheme!r}: use smtp:// or smtps://.")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        # submission:// is port 587 with STARTTLS; smtps:// is implicit TLS on 465.
        default_tls = "1" if parts.scheme == "submission" else "0"
        found = {
            "backend": "django.core.mail.backends.smtp.EmailBackend",
            "host": parts.hostname or "localhost",
            "port": parts.port or {"smtps": 465, "submission": 587}.get(parts.scheme, 25),
            "user": unquote(parts.username or ""),
            "password": unquote(parts.password or ""),
            "tls": query.get("tls", default_tls).lower() in {"1", "true", "yes"},
            "ssl": parts.scheme == "smtps" or query.get("ssl", "0").lower() in {"1", "true", "yes"},
        }
        if "timeout" in query:
            try:
                found["timeout"] = int(query["timeout"])
            except ValueError:
                raise ImproperlyConfigured(
                    f"EMAIL_URL timeout={query['timeout']!r} is not a whole number of seconds."
                ) from None
        return found
    if host:
        return {
            "backend": "django.core.mail.backends.smtp.EmailBackend",
            "host": host,
            "port": env_int("EMAIL_PORT", 25),
            "user": env_str("EMAIL_HOST_USER", ""),
            "password": env_str("EMAIL_HOST_PASSWORD", ""),
            "tls": env_bool("EMAIL_USE_TLS", False),
            "ssl": env_bool("EMAIL_USE_SSL", False),
        }
    return {"backend": "django.core.mail.backends.filebased.EmailBackend", "host": "localhost",
            "port": 25, "user": "", "password": "", "tls": False, "ssl": False}


_mail = _email_settings()
if _mail["tls"] and _mail["ssl"]:
    raise ImproperlyConfigured(
        "Email: TLS (STARTTLS) and SSL (implicit TLS) exclude each other; set only one."
    )
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Reminders <noreply@localhost>")
SERVER_EMAIL = env_str("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
POST_OFFICE = {
    "DEFAULT_PRIORITY": "now",
    # Campaign mail never goes through send_queued (docs/architecture.md, trap 7); keep
    # logging on for outcomes.
    "LOG_LEVEL": 2,
    "MESSAGE_ID_ENABLED": True,
}
# post-office's queue is the default mailer; the real transport behind it (campaigns talk to
# it directly, see campaigns/) is MAILERS["transport"] on Django >= 6.1 and
# MAIL_TRANSPORT_BACKEND + EMAIL_* before; POST_OFFICE gets its backends here
# (realtime_site/mail.py). Seconds the transport waits on the server:
_timeout = env_int("EMAIL_TIMEOUT", _mail.get("timeout", 30))
if _mail["backend"] == "django.core.mail.backends.smtp.EmailBackend":
    _options = {"host": _mail["host"], "port": _mail["port"], "username": _mail["user"],
                "password": _mail["password"], "use_tls": _mail["tls"], "use_ssl": _mail["ssl"]}
else:
    _options = {"file_path": str(VAR_DIR / "mail")}
# MAIL_TIMEOUT, MAIL_TRANSPORT_BACKEND, MAIL_TRANSPORT_OPTIONS, POST_OFFICE, and MAILERS or
# EMAIL_BACKEND, EMAIL_HOST...
globals().update(mail_settings(_mail["backend"], _options, timeout=_timeout,
                               post_office=POST_OFFICE))

# --- campaigns ------------------------------------------------------------------------------
# Base of the absolute links in emails (no trailing slash).
# Required in production: without it every acceptance link would point at 127.0.0.1:8000.
SITE_URL = (env_str("SITE_URL", "http://127.0.0.1:8000", required=PRODUCTION) or "").rstrip("/")
CAMPAIGN_LINK_MAX_AGE = env_int("CAMPAIGN_LINK_MAX_AGE", 30 * 86400)  # seconds
# Transport connections (one sender thread and one database connection each) per running
# campaign. Through a relay answering in 20 ms: 4 send 43 emails/s, 24 send 212/s (README,
# "Campaigns"); more costs database connections and meets relays' per-client caps.
CAMPAIGN_CONNECTIONS = env_int("CAMPAIGN_CONNECTIONS", 4)
CAMPAIGN_CHUNK_SIZE = env_int("CAMPAIGN_CHUNK_SIZE", 50)
# Many servers cap messages per SMTP session (often 100); start a new session before that.
CAMPAIGN_MESSAGES_PER_CONNECTION = env_int("CAMPAIGN_MESSAGES_PER_CONNECTION", 1000)
CAMPAIGN_MAX_CONNECT_FAILURES = env_int("CAMPAIGN_MAX_CONNECT_FAILURES", 5)
# A new campaign for the same agreement version skips users reminded less than this many
# seconds ago, unless its starter asks to include them (campaigns/services.py).
CAMPAIGN_RESEND_AFTER = env_float("CAMPAIGN_RESEND_AFTER", 24 * 3600.0)
# "Send a test to me" on the dashboard: at most this many test reminders per admin per hour.
CAMPAIGN_TEST_SENDS_PER_HOUR = env_int("CAMPAIGN_TEST_SENDS_PER_HOUR", 5)
# Messages per second per campaign across its connections (0: no cap) and the 4xx
# throttling back-off: campaigns/dispatch/ owns these.
CAMPAIGN_MAX_RATE = env_float("CAMPAIGN_MAX_RATE", 0.0)
# After a 4xx answer an email waits CAMPAIGN_THROTTLE_BACKOFF seconds, doubled per answer (at
# most 30 s, +0-25 % jitter), and is tried again up to CAMPAIGN_THROTTLE_RETRIES times; then it
# fails, retryable. Defaults: 1, 2, 4, 8, 16, 30 s, about a minute.
CAMPAIGN_THROTTLE_BACKOFF = env_float("CAMPAIGN_THROTTLE_BACKOFF", 1.0)
CAMPAIGN_THROTTLE_RETRIES = env_int("CAMPAIGN_THROTTLE_RETRIES", 6)

# --- jobs -----------------------------------------------------------------------------------
JOBS_WORKERS = env_int("JOBS_WORKERS", 2)
JOBS_PROGRESS_INTERVAL = env_float("JOBS_PROGRESS_INTERVAL", 0.2)
JOBS_HEARTBEAT_INTERVAL = env_float("JOBS_HEARTBEAT_INTERVAL", 10.0)
JOBS_STALE_AFTER = env_float("JOBS_STALE_AFTER", 40.0)
if JOBS_STALE_AFTER < 2 * JOBS_HEARTBEAT_INTERVAL:
    # A live job would be marked interrupted between two beats of its own server.
    raise ImproperlyConfigured(
        "JOBS_STALE_AFTER must be at least twice JOBS_HEARTBEAT_INTERVAL "
        f"(got {JOBS_STALE_AFTER} and {JOBS_HEARTBEAT_INTERVAL})."
    )
JOBS_RECENT_LIMIT = env_int("JOBS_RECENT_LIMIT", 50)
# In-process channel layer only: how often a server reads the job rows other processes
# (manage.py run_job, a shell) changed, to push them (jobs/watch.py); 0 switches it off.
JOBS_WATCH_INTERVAL = env_float("JOBS_WATCH_INTERVAL", 1.0)
# Per socket: frames a second a client may send, and a burst (beyond: closed with 4008);
# at most one `sync` per interval; its user re-read at least this often while pushing.
JOBS_WS_RATE = env_float("JOBS_WS_RATE", 10.0)
JOBS_WS_BURST = env_float("JOBS_WS_BURST", 20.0)
JOBS_WS_SYNC_INTERVAL = env_float("JOBS_WS_SYNC_INTERVAL", 1.0)
JOBS_WS_RECHECK = env_float("JOBS_WS_RECHECK", 5.0)
# Active (queued or running) jobs one user may have; beyond: 429 with Retry-After.
JOBS_MAX_ACTIVE_PER_USER = env_int("JOBS_MAX_ACTIVE_PER_USER", 5)
# A staff-only endpoint that starts the demonstration job; for tests and the demo only.
JOBS_DEMO_ENDPOINT = env_bool("JOBS_DEMO_ENDPOINT", DEBUG)
EXPORT_EXPIRY_HOURS = env_float("EXPORT_EXPIRY_HOURS", 24.0)
EXPORT_X_ACCEL_REDIRECT = env_str("EXPORT_X_ACCEL_REDIRECT", "")  # e.g. "/protected-media/"
# "fast": exports/xlsx.py, the streaming writer; "openpyxl": write-only openpyxl (bench/export.py).
EXPORT_XLSX_ENGINE = env_str("EXPORT_XLSX_ENGINE", "fast")
EXPORT_XLSX_COMPRESSLEVEL = env_int("EXPORT_XLSX_COMPRESSLEVEL", 5)  # zlib level of the xlsx zip
EXPORT_CHUNK_SIZE = env_int("EXPORT_CHUNK_SIZE", 1000)  # rows per fetch, progress and cancel check
EXPORT_PIPELINE = env_bool("EXPORT_PIPELINE", True)  # read / build / deflate in 3 threads
EXPORT_WIDTH_SAMPLE = env_int("EXPORT_WIDTH_SAMPLE", 2000)  # rows that decide column widths
EXPORT_TMP_DIR = Path(env_str("EXPORT_TMP_DIR", str(VAR_DIR / "tmp" / "exports")))
EXPORT_CLEANUP_INTERVAL = env_float("EXPORT_CLEANUP_INTERVAL", 600.0)  # seconds

# Tests start servers with a fast hasher; never set this in production.
if env_str("DJANGO_PASSWORD_HASHERS"):
    if PRODUCTION:
        raise ImproperlyConfigured("DJANGO_PASSWORD_HASHERS is for tests; unset it in production.")
    PASSWORD_HASHERS = env_list("DJANGO_PASSWORD_HASHERS", [])

LOGIN_URL = "/accounts/login/"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/accounts/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("DJANGO_TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
