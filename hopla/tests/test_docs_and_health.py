"""API docs served by the app itself, and the health endpoints."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.core.management import call_command

from hopla.redoc import NO_LOGO, REDOCLY_LOGO, SIDECAR_BUNDLE, redoc_bundle_content

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
    assets = re.findall(rb"""(?:src|href)\s*=\s*["'](/[^/"'][^"']*)["']""", html)
    assert assets, "the page should load the UI from this server"
    for asset in assets:
        assert api_client.get(asset.decode()).status_code == 200, asset


def test_the_redoc_bundle_is_the_sidecars_without_redoclys_logo_address(api_client):
    sidecar = Path(finders.find(SIDECAR_BUNDLE)).read_bytes()
    assert b"cdn.redoc.ly" in sidecar, "the sidecar's Redoc no longer fetches its logo: hopla.redoc can go"
    response = api_client.get("/redoc/bundles/redoc.standalone.js")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/javascript; charset=utf-8"
    served, source_map = response.content.rsplit(b"\n//# sourceMappingURL=", 1)
    assert b"cdn.redoc.ly" not in served
    assert served.replace(NO_LOGO, REDOCLY_LOGO) == sidecar.rsplit(b"\n//# sourceMappingURL=", 1)[0]
    assert api_client.get(source_map.decode()).status_code == 200


def test_the_redoc_bundle_is_cached_by_etag_and_gzipped(api_client):
    first = api_client.get("/redoc/bundles/redoc.standalone.js", HTTP_ACCEPT_ENCODING="gzip")
    assert first["Content-Encoding"] == "gzip"
    assert len(first.content) < len(redoc_bundle_content()[0]) / 3
    again = api_client.get("/redoc/bundles/redoc.standalone.js", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


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
