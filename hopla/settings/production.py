"""Production: secrets and backing services have no default, security flags are on, DEBUG is off."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import env

# Placeholders that documentation and examples show: a server signing with one is open to all their readers.
PLACEHOLDER_SECRETS = ("change-me", "changeme", "insecure")  # "insecure": base.py's and Django's own
SECRET_MIN_LENGTH = 50  # as Django's deployment check (security.W009)


def required(name: str, purpose: str, default: str = "") -> str:
    """The variable's value; production refuses to start without it rather than run on a local stand-in."""
    value = env.str(name, default=default)
    if not value.strip():
        raise ImproperlyConfigured(f"Set the {name} environment variable: {purpose}.")
    return value


def secret(name: str, purpose: str, default: str = "") -> str:
    """A required secret, refused when it is a published placeholder or too short or plain to guess hard."""
    value = required(name, purpose, default)
    if any(placeholder in value.lower() for placeholder in PLACEHOLDER_SECRETS):
        raise ImproperlyConfigured(f"{name} is a placeholder from the documentation: set a random secret of its own.")
    if len(value) < SECRET_MIN_LENGTH or len(set(value)) < 5:
        raise ImproperlyConfigured(
            f"{name} is too short or too plain: at least {SECRET_MIN_LENGTH} random characters, e.g. from "
            '`python -c "import secrets; print(secrets.token_urlsafe(50))"`.'
        )
    return value


SECRET_KEY = secret("SECRET_KEY", "it signs sessions, password reset links and, by default, JWTs")
SIMPLE_JWT["SIGNING_KEY"] = secret(  # noqa: F405
    "JWT_SIGNING_KEY", "it signs access and refresh tokens (unset: SECRET_KEY)", default=SECRET_KEY
)
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")
# Without them base.py would run SQLite and in-process jobs with an in-memory channel layer: fine on a
# laptop, silently wrong on several processes or machines.
required("DATABASE_URL", "the PostgreSQL database, e.g. postgres://user:password@host:5432/hopla")
required("REDIS_URL", "the Redis of the job queue, WebSocket events, cache and throttling, e.g. redis://host:6379/0")
# Emails would otherwise send people to http://localhost:8000.
PUBLIC_BASE_URL = public_base_url(  # noqa: F405
    required("PUBLIC_BASE_URL", "the address people open hopla at, for links in emails, e.g. https://hopla.example.com")
)

# collectstatic has run (see Dockerfile); hashed file names let browsers cache assets forever.
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
# Load balancers and container healthchecks probe the process itself, over plain HTTP.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"
# HSTS preload is a commitment of the whole domain that its owner opts into (SECURE_HSTS_PRELOAD).
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
