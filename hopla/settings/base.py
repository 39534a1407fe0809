"""Settings shared by every environment, each knob read from the environment through one `env`."""

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A local .env file is a convenience for development; real deployments set the environment.
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

SECRET_KEY = env.str("SECRET_KEY", default="hopla-insecure-local-key-change-me-in-production")
DEBUG = env.bool("DEBUG", default=False)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_rq",
    "channels",
    "corsheaders",
    "csp",
    "accounts",
    "tickets",
    "realtime",
    "webhooks",
    "board",
    "hopla.idempotency",
    "notifications",
]

MIDDLEWARE = [
    "hopla.middleware.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "hopla.urls"
ASGI_APPLICATION = "hopla.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "hopla" / "templates"],
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

# --- Data stores -------------------------------------------------------------------------------
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# A connection dropped by the server (restart, pg_terminate_backend) is replaced, not reused.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Under ASGI every request runs on a thread of its own, so per-thread persistent connections
# (CONN_MAX_AGE) are never reused and pile up until PostgreSQL refuses clients. A process-wide
# psycopg pool bounds and reuses them instead (measured with `make soak` and `bench/`).
DB_POOL_MAX_SIZE = env.int("DB_POOL_MAX_SIZE", default=20)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_POOL_MAX_SIZE > 0:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # Django requires it with a pool
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": 1,
        "max_size": DB_POOL_MAX_SIZE,
        "timeout": env.float("DB_POOL_TIMEOUT_SECONDS", default=10),
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=0)
# PostgreSQL's work_mem on hopla's connections (libpq `options`), the memory each sort, hash or bitmap
# of a statement may take before it spills or, for a bitmap, turns lossy. At PostgreSQL's default 4MB
# a filtered list's count on 1 000 000 tickets built a lossy bitmap and read twice the heap pages it
# needed (W2: 20 319 against 10 820 pages, 130-220 ms against 53 ms; BENCHMARKS.md, "W2 at 1 000 000
# tickets, again"). Empty: the server's own setting.
DB_WORK_MEM = env.str("DB_WORK_MEM", default="16MB")
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql" and DB_WORK_MEM:
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    _options["options"] = f"{_options.get('options', '')} -c work_mem={DB_WORK_MEM}".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = env.str("REDIS_URL", default="")

if REDIS_URL:
    CACHES = {
        "default": {
            # django-redis: one connection pool per process (Django's own backend opened a connection
            # per ASGI request), and with hopla.cache one client too.
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": "hopla",
            "OPTIONS": {
                # Fail fast when Redis is away: throttling then lets requests through (hopla.api.throttling).
                "SOCKET_CONNECT_TIMEOUT": 0.5,
                "SOCKET_TIMEOUT": 1,
                "CONNECTION_FACTORY": "hopla.cache.SharedClientConnectionFactory",
            },
        }
    }
    # Redis pub/sub rather than channels_redis' list-based RedisChannelLayer, measured with
    # `python -m bench.event_delay`: it delivers sooner (median 10.6 against 13.5 ms for one
    # client; about 80 against 85 ms for 200), and with 200 clients connecting at once the list-based
    # layer dropped sockets on Redis read timeouts in 3 runs out of 4, where pub/sub delivered every
    # event. Nor does pub/sub cap a channel (the other drops messages past 100 queued) or expire
    # groups (the other forgets a socket's groups after 24 hours). Its at-most-once delivery is what
    # `resume` from the Event table makes up for. Pub/sub channels ignore Redis database numbers:
    # deployments sharing one Redis need distinct prefixes.
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis' pub/sub layer, with a blocking send for the sync code that publishes events.
            "BACKEND": "realtime.layers.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [REDIS_URL], "prefix": env.str("CHANNEL_LAYER_PREFIX", default="hopla")},
        }
    }
    RQ_QUEUES = {"default": {"URL": REDIS_URL, "DEFAULT_TIMEOUT": 300}}
    # Services already enqueue from transaction.on_commit; django-rq must not defer a second time.
    RQ = {"COMMIT_MODE": "auto"}
else:
    # Embedded default: no Redis, everything in the process (see hopla/jobs.py for jobs).
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    RQ_QUEUES = {}

# --- Auth --------------------------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_RESET_TIMEOUT = env.int("PASSWORD_RESET_TIMEOUT", default=3 * 60 * 60)


def public_base_url(value: str) -> str:
    """PUBLIC_BASE_URL checked at start-up: a wrong one would only show as broken links in people's mail."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"PUBLIC_BASE_URL must be the http:// or https:// address people open hopla at, such as "
            f"https://hopla.example.com (a path is allowed, no query or fragment), not {value!r}."
        )
    return value.strip().rstrip("/")


# The address people open hopla at: links in emails (the password reset page) are built from it.
PUBLIC_BASE_URL = public_base_url(env.str("PUBLIC_BASE_URL", default="http://localhost:8000"))

# Days an invitation into a project (SPEC §4) stays valid; inviting the same email again restarts it.
INVITATION_TTL_DAYS = env.int("INVITATION_TTL_DAYS", default=7)
if INVITATION_TTL_DAYS < 1:
    raise ImproperlyConfigured(f"INVITATION_TTL_DAYS must be at least 1 day, not {INVITATION_TTL_DAYS}.")

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=env.int("JWT_ACCESS_MINUTES", default=15)),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=env.int("JWT_REFRESH_DAYS", default=7)),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": True,
    "ALGORITHM": env.str("JWT_ALGORITHM", default="HS256"),
    "SIGNING_KEY": env.str("JWT_SIGNING_KEY", default=SECRET_KEY),
    # Access tokens carry a hash of the password: changing it revokes every access token at once.
    "CHECK_REVOKE_TOKEN": True,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
}

# The board's session pages (SPEC §12).
LOGIN_URL = "board:login"
LOGIN_REDIRECT_URL = "board:projects"
LOGOUT_REDIRECT_URL = "board:login"

# --- API ---------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    # JWT first: its Bearer challenge makes anonymous requests 401 (SPEC §2). The session is for the
    # board's own pages (SPEC §12); DRF enforces CSRF on every write it authenticates.
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "hopla.api.authentication.JWTAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # JSON only; the image upload declares its own multipart parser (SPEC §2).
    "DEFAULT_PARSER_CLASSES": ["hopla.api.parsers.SafeJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["hopla.api.renderers.OrjsonRenderer"],
    "DEFAULT_PAGINATION_CLASS": "hopla.api.pagination.LimitOffsetPagination",
    "PAGE_SIZE": 25,
    "DEFAULT_FILTER_BACKENDS": ["hopla.api.filters.FilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "hopla.api.exceptions.api_exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["hopla.api.throttling.UserWriteThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "user_write": env.str("USER_WRITE_THROTTLE_RATE", default="300/min"),
        "login_ip": env.str("LOGIN_THROTTLE_RATE_IP", default="20/min"),
        "login_email": env.str("LOGIN_THROTTLE_RATE_EMAIL", default="5/min"),
        "password_reset": env.str("PASSWORD_RESET_THROTTLE_RATE", default="5/hour"),
        "register": env.str("REGISTER_THROTTLE_RATE", default="20/hour"),
    },
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}
# JSON bodies above this size are refused with 413 before parsing (uploads have their own limit).
API_MAX_JSON_BYTES = env.int("API_MAX_JSON_BYTES", default=1024 * 1024)
# Behind a reverse proxy, the number of proxies whose X-Forwarded-For entries are trusted.
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES

SPECTACULAR_SETTINGS = {
    "TITLE": "hopla API",
    "DESCRIPTION": "Projects, tickets, comments, images and their history. "
    "Authenticate with `POST /api/v1/auth/login/` and use the access token as a Bearer token.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    # The sidecar's Redoc, served by hopla.redoc without its one request to another host.
    "REDOC_DIST": "/redoc",
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True},
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "hopla.api.schema.add_error_responses",
        "hopla.idempotency.schema.document_idempotency_keys",
    ],
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "TicketStatusEnum": "tickets.models.Status",
        "ImageStatusEnum": "tickets.models.ImageStatus",
        "DeliveryStatusEnum": "webhooks.models.DeliveryStatus",
    },
}

CORS_ALLOWED_ORIGINS = env.list("CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/.*$"

# --- Email -------------------------------------------------------------------------------------
EMAIL_CONFIG = env.email_url("EMAIL_URL", default="consolemail://")
vars().update(EMAIL_CONFIG)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="hopla <noreply@localhost>")
# A mail server that neither answers nor refuses must not hold a worker for long (Django's default: forever).
EMAIL_TIMEOUT = env.int("EMAIL_TIMEOUT_SECONDS", default=10)

# --- Files -------------------------------------------------------------------------------------
STATIC_URL = "/static/"
MEDIA_URL = "/media/"
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")
CLOUDINARY_URL = env.str("CLOUDINARY_URL", default="")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
# Image uploads (SPEC §6): limits checked on the content, retries of the storing job, recovery.
IMAGE_MAX_BYTES = env.int("IMAGE_MAX_BYTES", default=10 * 1024 * 1024)
IMAGE_MAX_PIXELS = env.int("IMAGE_MAX_PIXELS", default=40_000_000)
IMAGE_THUMBNAIL_SIZE = env.int("IMAGE_THUMBNAIL_SIZE", default=256)
# Seconds between tries of the storing job after a transient failure; one retry per entry.
IMAGE_RETRY_INTERVALS = [int(seconds) for seconds in env.list("IMAGE_RETRY_INTERVALS", default=["10", "60", "300"])]
# Images still pending or processing after this long are re-enqueued, by the worker's sweep below
# or by `manage.py requeue_stuck_images`.
IMAGE_STUCK_AFTER_SECONDS = env.int("IMAGE_STUCK_AFTER_SECONDS", default=15 * 60)
# A failed image keeps its uploaded bytes this long, so an admin can retry it; then the sweep below
# deletes them (the image stays failed, no longer retryable).
IMAGE_FAILED_RETENTION_HOURS = env.int("IMAGE_FAILED_RETENTION_HOURS", default=7 * 24)
# Sweeps the worker (hopla.worker.PeriodicTasksWorker) runs in the background: dotted path → seconds.
IMAGE_SWEEP_INTERVAL_SECONDS = env.int("IMAGE_SWEEP_INTERVAL_SECONDS", default=60)
WORKER_PERIODIC_TASKS = {
    "tickets.jobs.requeue_stuck_images": IMAGE_SWEEP_INTERVAL_SECONDS,
    "tickets.jobs.purge_expired_failed_image_bytes": IMAGE_SWEEP_INTERVAL_SECONDS,
    "tickets.jobs.republish_events": env.int("EVENT_REPUBLISH_INTERVAL_SECONDS", default=5),
}

# Those of the sweeps above that consume the event table: they also run as soon as events commit (on
# PostgreSQL; hopla.worker, tickets.event_wakeup), their interval being the longest an event waits otherwise.
WORKER_EVENT_TASKS: set[str] = set()

# --- Imports (SPEC §13) -------------------------------------------------------------------------
# Largest import file accepted, in bytes (larger: 413 too_large).
IMPORT_MAX_BYTES = env.int("IMPORT_MAX_BYTES", default=10 * 1024 * 1024)
# Tickets an import writes per transaction; its progress (`processed`) is saved after each.
IMPORT_BATCH_SIZE = env.int("IMPORT_BATCH_SIZE", default=1000)

# --- Webhooks (SPEC §9) --------------------------------------------------------------------------
# An attempt that has no 2xx answer within this many seconds has failed.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=10)
# Seconds before each retry of a failed attempt; after the last, the delivery is `failed`.
WEBHOOK_RETRY_SCHEDULE = [
    int(seconds)
    for seconds in env.list("WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"])
]
# Deliveries failed in a row after which a webhook is turned off (`active: false`, `disabled_reason`).
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=15)
# After a rotation the old secret still signs, beside the new one, for this long.
WEBHOOK_SECRET_OVERLAP_HOURS = env.int("WEBHOOK_SECRET_OVERLAP_HOURS", default=24)
# Plain http:// targets (never in production unless the receivers are on a trusted network).
WEBHOOK_ALLOW_HTTP = env.bool("WEBHOOK_ALLOW_HTTP", default=False)
# Networks (CIDRs) exempt from the refusal of loopback, private, link-local... addresses: on-premise
# receivers, tests (`127.0.0.1/32`). Empty: only public addresses.
WEBHOOK_ALLOWED_NETWORKS = env.list("WEBHOOK_ALLOWED_NETWORKS", default=[])
# Webhooks a worker drains at once, each on a thread: a slow receiver holds up only its own deliveries.
WEBHOOK_DELIVERY_THREADS = env.int("WEBHOOK_DELIVERY_THREADS", default=8)
# How often the worker turns newly committed events into deliveries and starts the due ones (retries);
# on PostgreSQL new events are also taken as soon as they commit.
WEBHOOK_DISPATCH_INTERVAL_SECONDS = env.float("WEBHOOK_DISPATCH_INTERVAL_SECONDS", default=0.5)
WORKER_PERIODIC_TASKS["webhooks.jobs.dispatch_deliveries"] = WEBHOOK_DISPATCH_INTERVAL_SECONDS
WORKER_EVENT_TASKS.add("webhooks.jobs.dispatch_deliveries")

# --- Idempotent requests (SPEC §10) ------------------------------------------------------------------
# How long the answer of a POST sent with an Idempotency-Key is kept for replays.
IDEMPOTENCY_TTL_HOURS = env.int("IDEMPOTENCY_TTL_HOURS", default=24)
# A key's first request still unanswered after this long is taken for dead: its next request runs.
IDEMPOTENCY_LOCK_SECONDS = env.int("IDEMPOTENCY_LOCK_SECONDS", default=300)
# How often the worker deletes expired keys.
IDEMPOTENCY_PURGE_INTERVAL_SECONDS = env.int("IDEMPOTENCY_PURGE_INTERVAL_SECONDS", default=3600)
WORKER_PERIODIC_TASKS["hopla.idempotency.jobs.purge_expired_idempotency_keys"] = IDEMPOTENCY_PURGE_INTERVAL_SECONDS
# --- Notifications (SPEC §11) ---------------------------------------------------------------------
# How often the worker turns newly committed events into notifications (and pushes them live); on
# PostgreSQL also as soon as events commit.
NOTIFY_INTERVAL_SECONDS = env.float("NOTIFY_INTERVAL_SECONDS", default=0.5)
WORKER_PERIODIC_TASKS["notifications.jobs.make_notifications"] = NOTIFY_INTERVAL_SECONDS
WORKER_EVENT_TASKS.add("notifications.jobs.make_notifications")
# `instant` emails: one per user per window of this many seconds, listing what is still unread.
NOTIFY_EMAIL_BATCH_SECONDS = env.int("NOTIFY_EMAIL_BATCH_SECONDS", default=60)
# `daily` emails: the digest goes at this hour (UTC, 0-23).
NOTIFY_DIGEST_HOUR = env.int("NOTIFY_DIGEST_HOUR", default=7)
if not 0 <= NOTIFY_DIGEST_HOUR <= 23:
    raise ValueError(f"NOTIFY_DIGEST_HOUR must be an hour from 0 to 23, not {NOTIFY_DIGEST_HOUR}.")
# Seconds before each retry of a notification email the mail server refused or did not take.
NOTIFY_EMAIL_RETRY_INTERVALS = [
    int(seconds) for seconds in env.list("NOTIFY_EMAIL_RETRY_INTERVALS", default=["30", "120", "600", "1800"])
]
# The unsubscribe link in notification emails ({token} is filled in), and how long it works.
NOTIFY_UNSUBSCRIBE_URL = env.str(
    "NOTIFY_UNSUBSCRIBE_URL", default="http://localhost:8000/notifications/unsubscribe/{token}/"
)
NOTIFY_UNSUBSCRIBE_DAYS = env.int("NOTIFY_UNSUBSCRIBE_DAYS", default=90)
# The sweep that finds the emails due runs often enough that a batch waits little past its window.
WORKER_PERIODIC_TASKS["notifications.jobs.email_notifications_due"] = min(10, NOTIFY_EMAIL_BATCH_SECONDS)

# Without collectstatic (local runs, tests) whitenoise serves straight from the app folders.
WHITENOISE_USE_FINDERS = env.bool("WHITENOISE_USE_FINDERS", default=True)

# --- Content-Security-Policy (django-csp) -----------------------------------------------------------
# Scripts only from this server, never inline (the board's pages carry no inline script or handler).
# Styles allow inline attributes for the admin's templates. Images may come from Cloudinary.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:", *env.list("CSP_IMAGE_HOSTS", default=["https://res.cloudinary.com"])],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'self'"],
    }
}

# --- Internationalisation ----------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Profiling ---------------------------------------------------------------------------------
SILK_ENABLED = env.bool("SILK_ENABLED", default=False)
if SILK_ENABLED:
    INSTALLED_APPS.append("silk")
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.common.CommonMiddleware"), "silk.middleware.SilkyMiddleware")
    SILKY_AUTHENTICATION = True
    SILKY_AUTHORISATION = True  # staff only: Silk's default permission check is user.is_staff
    SILKY_PYTHON_PROFILER = env.bool("SILK_PYTHON_PROFILER", default=False)
    SILKY_MAX_RECORDED_REQUESTS = env.int("SILK_MAX_RECORDED_REQUESTS", default=10_000)

# --- Logging -----------------------------------------------------------------------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "hopla.logging.JSONFormatter"},
        "text": {"()": "hopla.logging.TextFormatter"},
    },
    "filters": {"redact_tokens": {"()": "hopla.logging.RedactTokensFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact_tokens"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # hopla's request log replaces Django's own per-request lines.
        "django.request": {"level": "ERROR"},
        "django.server": {"level": "WARNING"},
        "uvicorn.access": {"level": "WARNING"},
        # httpx logs every request at INFO: a line per webhook attempt, which its Delivery row already
        # records (status, duration, error); 6 % of the worker's time per delivery (bench/ W6).
        "httpx": {"level": "WARNING"},
        # uvicorn logs each WebSocket handshake with its query string (the JWT): through our redacting handler.
        "uvicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
