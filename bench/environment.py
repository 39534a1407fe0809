"""The environment of the processes a bench run starts (server, worker) and of the run itself."""

import os

# Overridable so that two checkouts can run the suite side by side without sharing data.
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/7")


def server_environment(database: str, cloudinary_url: str) -> dict[str, str]:
    """bench.settings on `database`, Redis db 7 (or BENCH_REDIS_URL), images to `cloudinary_url`."""
    return {
        "DJANGO_SETTINGS_MODULE": "bench.settings",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
        "REDIS_URL": REDIS_URL,
        "CLOUDINARY_URL": cloudinary_url,
        "DB_CONN_MAX_AGE": "600",
        "JWT_ACCESS_MINUTES": "600",
        # The write throttle still runs (its Redis round trips are measured), but never refuses.
        "USER_WRITE_THROTTLE_RATE": "100000000/min",
        "LOG_LEVEL": os.environ.get("BENCH_LOG_LEVEL", "INFO"),
        "PYTHONUNBUFFERED": "1",
        # W6's receiver is a local http:// server, which SPEC §9 refuses unless named.
        "WEBHOOK_ALLOW_HTTP": "true",
        "WEBHOOK_ALLOWED_NETWORKS": "127.0.0.1/32",
    }
