"""Each settings module starts (or refuses to) as documented; run in subprocesses with a clean env."""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
PRODUCTION = {
    "DJANGO_SETTINGS_MODULE": "hopla.settings.production",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "example.com",
    "DATABASE_URL": "postgres://u@db:5432/x",
    "REDIS_URL": "redis://r:6379/0",
    "PUBLIC_BASE_URL": "https://example.com",
}


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean_env, capture_output=True, text=True, timeout=120
    )


def refusal(result: subprocess.CompletedProcess[str]) -> str:
    """The ImproperlyConfigured line a refused start printed."""
    assert result.returncode != 0
    return next(line for line in result.stderr.splitlines() if line.startswith("django.core.exceptions."))


def example_secret_key() -> str:
    return re.findall(r"^SECRET_KEY=(.*)$", (ROOT / ".env.example").read_text(), re.MULTILINE)[0]


@pytest.mark.parametrize(
    ("missing", "purpose"),
    [
        ("SECRET_KEY", "it signs sessions, password reset links and, by default, JWTs"),
        ("DATABASE_URL", "the PostgreSQL database, e.g. postgres://"),
        ("REDIS_URL", "the Redis of the job queue, WebSocket events, cache and throttling, e.g. redis://"),
        ("PUBLIC_BASE_URL", "the address people open hopla at, for links in emails, e.g. https://"),
    ],
)
def test_production_refuses_to_start_without_its_secret_and_backing_services(missing, purpose):
    # Not SQLite with an in-memory channel layer and in-process jobs: each process would have its own.
    env = {name: value for name, value in PRODUCTION.items() if name != missing}
    line = refusal(manage("check", **env))
    assert line.startswith(f"django.core.exceptions.ImproperlyConfigured: Set the {missing} environment variable: ")
    assert purpose in line


@pytest.mark.parametrize(
    ("name", "value", "reason"),
    [
        ("SECRET_KEY", "", "Set the SECRET_KEY environment variable"),
        ("SECRET_KEY", "   ", "Set the SECRET_KEY environment variable"),
        ("SECRET_KEY", example_secret_key(), "SECRET_KEY is a placeholder from the documentation"),
        ("SECRET_KEY", "hopla-insecure-local-key-change-me-in-production", "SECRET_KEY is a placeholder"),
        ("SECRET_KEY", "django-insecure-" + secrets.token_urlsafe(50), "SECRET_KEY is a placeholder"),
        ("SECRET_KEY", secrets.token_urlsafe(30), "SECRET_KEY is too short or too plain: at least 50"),
        ("SECRET_KEY", "ab" * 40, "SECRET_KEY is too short or too plain"),
        ("JWT_SIGNING_KEY", "change-me", "JWT_SIGNING_KEY is a placeholder from the documentation"),
        ("JWT_SIGNING_KEY", "short", "JWT_SIGNING_KEY is too short or too plain"),
    ],
    ids=[
        "empty",
        "blank",
        "env-example",
        "base-default",
        "django-insecure",
        "short",
        "plain",
        "jwt-placeholder",
        "jwt-short",
    ],
)
def test_production_refuses_placeholder_and_weak_secrets(name, value, reason):
    line = refusal(manage("check", **{**PRODUCTION, name: value}))
    assert f"ImproperlyConfigured: {reason}" in line


@pytest.mark.parametrize(
    "value",
    ["hopla.example.com", "ftp://hopla.example.com", "https://", "https://x.example/?a=1", "https://x.example/#a"],
)
def test_a_public_base_url_that_links_could_not_be_built_from_is_refused(value):
    line = refusal(manage("check", **{**PRODUCTION, "PUBLIC_BASE_URL": value}))
    assert "ImproperlyConfigured: PUBLIC_BASE_URL must be the http:// or https:// address people open hopla at" in line


def test_the_example_secret_key_is_the_placeholder_refused():
    assert example_secret_key() == "change-me"


def test_production_passes_the_deployment_checklist():
    result = manage("check", "--deploy", "--fail-level", "WARNING", **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_never_redirects_health_probes_to_https():
    code = (
        "from django.test import Client; client = Client(SERVER_NAME='example.com');"
        "print(*(client.get(path).status_code for path in ('/healthz', '/api/v1/', '/readyz')))"
    )
    # Closed ports, no pool: /readyz answers at once that they are down.
    unreachable = {"DATABASE_URL": "postgres://u@127.0.0.1:1/x", "REDIS_URL": "redis://127.0.0.1:1/0"}
    result = manage("shell", "-c", code, **{**PRODUCTION, **unreachable, "DB_POOL_MAX_SIZE": "0"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["200", "301", "503"]


@pytest.mark.parametrize("settings_module", ["hopla.settings.local", "hopla.settings.production"])
def test_collectstatic_gathers_the_assets(tmp_path, settings_module):
    result = manage(
        "collectstatic",
        "--noinput",
        **{**PRODUCTION, "DJANGO_SETTINGS_MODULE": settings_module, "STATIC_ROOT": str(tmp_path)},
    )
    assert result.returncode == 0, result.stderr
    for asset in ("admin/css/base.css", "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"):
        assert (tmp_path / asset).is_file()
        assert (tmp_path / f"{asset}.gz").is_file()  # whitenoise serves it compressed
    assert (tmp_path / "staticfiles.json").is_file() == (settings_module == "hopla.settings.production")


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "sqlite3 InMemoryChannelLayer LocMemCache no-queues False"),
        (
            {"DATABASE_URL": "postgres://u@db:5432/x", "REDIS_URL": "redis://r:6379/0", "SILK_ENABLED": "true"},
            "postgresql RedisPubSubChannelLayer RedisCache default True",
        ),
    ],
    ids=["embedded-default", "real-services"],
)
def test_env_vars_switch_each_part_to_the_real_service(env, expected):
    code = (
        "from django.conf import settings as s;"
        "print(s.DATABASES['default']['ENGINE'].rsplit('.', 1)[1],"
        " s.CHANNEL_LAYERS['default']['BACKEND'].rsplit('.', 1)[1],"
        " s.CACHES['default']['BACKEND'].rsplit('.', 1)[1],"
        " ','.join(s.RQ_QUEUES) or 'no-queues', 'silk' in s.INSTALLED_APPS)"
    )
    result = manage("shell", "-c", code, DJANGO_SETTINGS_MODULE="hopla.settings.local", **env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == expected


def test_silk_when_enabled_is_mounted_for_staff_only(tmp_path):
    code = (
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "from django.test import Client; from accounts.models import User;"
        "anonymous = Client().get('/silk/').status_code;"
        "member = Client(); member.force_login(User.objects.create_user('m@x.io', 'pw', full_name='M'));"
        "staff = Client(); staff.force_login(User.objects.create_user('s@x.io', 'pw', full_name='S', is_staff=True));"
        "print(anonymous, member.get('/silk/').status_code, staff.get('/silk/').status_code)"
    )
    result = manage(
        "shell",
        "-c",
        code,
        DJANGO_SETTINGS_MODULE="hopla.settings.local",
        SILK_ENABLED="true",
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=f"sqlite:///{tmp_path / 'silk.sqlite3'}",
    )
    assert result.returncode == 0, result.stderr
    anonymous, member, staff = result.stdout.strip().splitlines()[-1].split()
    assert anonymous == "302"  # to the login page
    assert member in {"302", "403"}
    assert staff == "200"


def test_every_setting_read_from_the_environment_is_documented():
    read = set()
    for module in (ROOT / "hopla" / "settings").glob("*.py"):
        read |= set(re.findall(r'env\.\w+\(\s*"([A-Z_]+)"', module.read_text()))
    documented = set(re.findall(r"^#? ?([A-Z_]+)=", (ROOT / ".env.example").read_text(), re.MULTILINE))
    assert read - documented == set(), "read from the environment but missing from .env.example"
    readme = (ROOT / "README.md").read_text()
    assert [name for name in sorted(documented) if f"`{name}`" not in readme] == [], "missing from README"


@pytest.mark.django_db
def test_the_database_connections_take_db_work_mem() -> None:
    from django.conf import settings
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("work_mem is PostgreSQL's")
    with connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone()[0] == settings.DB_WORK_MEM
