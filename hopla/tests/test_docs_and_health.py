"""API docs served by the app itself, and the health endpoints."""

import re

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db

EXTERNAL_URL = re.compile(rb"""(?:src|href)\s*=\s*["'](?:https?:)?//""", re.IGNORECASE)


def test_schema_generation_has_no_warnings_or_errors():
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", "/dev/null")


def test_schema_documents_every_auth_endpoint_and_jwt(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    schema = response.json()
    paths = set(schema["paths"])
    for endpoint in ("register", "login", "refresh", "logout", "me", "password/change", "password/reset"):
        assert f"/api/v1/auth/{endpoint}/" in paths
    assert "jwtAuth" in schema["components"]["securitySchemes"]


@pytest.mark.parametrize("page", ["/swagger/", "/documentation/", "/redoc/"])
def test_docs_pages_load_only_local_assets(api_client, page):
    response = api_client.get(page)
    assert response.status_code == 200
    html = response.content
    assert not EXTERNAL_URL.search(html), EXTERNAL_URL.search(html)
    assert b"fonts.googleapis" not in html
    assets = re.findall(rb"""(?:src|href)\s*=\s*["'](/static/[^"']+)["']""", html)
    assert assets, "the page should load the UI from /static/"
    for asset in assets:
        assert api_client.get(asset.decode()).status_code == 200, asset


def test_admin_login_page_and_its_css_are_served(api_client):
    response = api_client.get("/admin/login/")
    assert response.status_code == 200
    assert api_client.get("/static/admin/css/base.css").status_code == 200


def test_healthz_answers_ok(api_client):
    response = api_client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_checks_the_database_and_redis(api_client):
    response = api_client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


def test_readyz_is_503_when_redis_is_unreachable(api_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_silk_is_off_unless_enabled(api_client):
    assert api_client.get("/silk/").status_code == 404


def test_every_operation_has_a_summary_and_a_tag(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("tags"), f"{method.upper()} {path} has no tag"


def test_every_documented_error_has_the_contract_shape_and_an_example(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            errors = {status: body for status, body in operation["responses"].items() if status >= "400"}
            needs_token = any("jwtAuth" in requirement for requirement in operation.get("security", []))
            assert "401" in errors or not needs_token, f"{method} {path}"
            for status, response in errors.items():
                content = response["content"]["application/json"]
                assert content["schema"] == {"$ref": "#/components/schemas/Error"}, f"{method} {path} {status}"
                assert {"detail", "code"} <= set(content["example"]), f"{method} {path} {status}"
