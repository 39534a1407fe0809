"""Each settings module starts (or refuses to) as documented; run in subprocesses with a clean env."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent


def manage(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean_env = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp"), **env}
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=clean_env, capture_output=True, text=True, timeout=120
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = manage("check", DJANGO_SETTINGS_MODULE="hopla.settings.production", ALLOWED_HOSTS="example.com")
    assert result.returncode != 0
    assert "Set the SECRET_KEY environment variable" in result.stderr


def test_production_passes_the_deployment_checklist():
    result = manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_SETTINGS_MODULE="hopla.settings.production",
        SECRET_KEY="x" * 20 + "a-long-random-production-secret-for-the-check-only",
        ALLOWED_HOSTS="example.com",
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


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
