"""Production: secrets have no default, security flags are on, DEBUG is off."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = env.str("SECRET_KEY")  # no default: refuse to start without it
SIMPLE_JWT["SIGNING_KEY"] = env.str("JWT_SIGNING_KEY", default=SECRET_KEY)  # noqa: F405
DEBUG = False
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS")

# collectstatic has run (see Dockerfile); hashed file names let browsers cache assets forever.
WHITENOISE_USE_FINDERS = False
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")  # noqa: F405
STORAGES["staticfiles"] = {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"}  # noqa: F405

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
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
