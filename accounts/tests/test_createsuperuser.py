"""`manage.py createsuperuser --noinput` creates the admin from DJANGO_SUPERUSER_* variables (containers,
scripts), and the admin so created logs in through the API."""

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from accounts.models import User

pytestmark = pytest.mark.django_db

ADMIN = {
    "DJANGO_SUPERUSER_EMAIL": "Root@Example.com",
    "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-passphrase-7",
    "DJANGO_SUPERUSER_FULL_NAME": "Ann Admin",
}


def test_createsuperuser_without_questions_creates_the_admin_from_the_environment(monkeypatch):
    for name, value in ADMIN.items():
        monkeypatch.setenv(name, value)
    call_command("createsuperuser", interactive=False, verbosity=0)

    admin = User.objects.get()
    assert (admin.email, admin.full_name, admin.is_staff, admin.is_superuser) == (
        "root@example.com",
        "Ann Admin",
        True,
        True,
    )
    login = APIClient().post(
        "/api/v1/auth/login/", {"email": "root@example.com", "password": ADMIN["DJANGO_SUPERUSER_PASSWORD"]}
    )
    assert login.status_code == 200


def test_createsuperuser_without_questions_names_the_full_name_it_misses(monkeypatch):
    for name, value in ADMIN.items():
        if name != "DJANGO_SUPERUSER_FULL_NAME":
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("DJANGO_SUPERUSER_FULL_NAME", raising=False)
    with pytest.raises(CommandError, match="You must use --full_name with --noinput"):
        call_command("createsuperuser", interactive=False, verbosity=0)
    assert not User.objects.exists()
