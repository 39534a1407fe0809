"""Per-user write throttling: writes are capped per user, reads never are."""

from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.tests.factories import UserFactory
from hopla.api.throttling import UserWriteThrottle
from tickets.tests.conftest import client_for

pytestmark = pytest.mark.django_db

RATES = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "user_write": "3/min"}


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES})
def test_writes_are_throttled_per_user_and_reads_are_not():
    busy, calm = client_for(UserFactory()), client_for(UserFactory())
    statuses = [busy.patch("/api/v1/auth/me/", {"full_name": f"N{n}"}, format="json").status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    throttled = busy.post("/api/v1/projects/", {"key": "THR", "name": "x"}, format="json")
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    assert all(busy.get("/api/v1/auth/me/").status_code == 200 for _ in range(5))
    assert calm.patch("/api/v1/auth/me/", {"full_name": "Calm"}, format="json").status_code == 200


UNREACHABLE_REDIS = {
    "default": {
        **settings.CACHES["default"],
        "LOCATION": "redis://127.0.0.1:1/0",
    }
}


@override_settings(CACHES=UNREACHABLE_REDIS)
def test_with_the_throttle_counters_unreachable_requests_go_through(user, password):
    login = client_for(user).post("/api/v1/auth/login/", {"email": user.email, "password": password}, format="json")
    assert login.status_code == 200
    write = client_for(user).patch("/api/v1/auth/me/", {"full_name": "Redis is down"}, format="json")
    assert write.status_code == 200


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES})
def test_retry_after_counts_down_from_the_oldest_write_in_the_window():
    busy = client_for(UserFactory())
    for n in range(3):
        assert busy.patch("/api/v1/auth/me/", {"full_name": f"N{n}"}, format="json").status_code == 200
    refused = busy.patch("/api/v1/auth/me/", {"full_name": "N3"}, format="json")
    assert refused.status_code == 429
    assert 55 <= int(refused["Retry-After"]) <= 60  # 3/min, the first write a moment ago


@override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES})
def test_concurrent_writes_are_each_counted_once():
    """The window is read and updated by Redis in one step: parallel writes cannot slip past the cap."""
    user = UserFactory()
    request = SimpleNamespace(method="POST", user=user)

    def allowed(_: int) -> bool:
        return UserWriteThrottle().allow_request(request, None)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(allowed, range(16)))
    assert results.count(True) == 3
