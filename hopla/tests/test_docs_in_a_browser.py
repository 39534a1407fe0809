"""The API docs and the admin in a real browser: each renders, logs no error and asks no other host for anything."""

import re

from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, UserFactory
from hopla.tests.browser import BrowsingSession


def assert_served_by_this_server_alone(browsing: BrowsingSession) -> None:
    # Once nothing is in flight, the page has asked for everything its first screen needs (Redoc's
    # sidebar logo comes last, after the API is drawn).
    browsing.page.wait_for_load_state("networkidle")
    assert browsing.off_host_requests() == []
    assert browsing.errors == []


def test_redoc_shows_the_api_with_no_other_host(browsing):
    page = browsing.page
    page.goto("/redoc/")
    expect(page.get_by_role("heading", name="hopla API (1.0.0)")).to_be_visible()
    expect(page.get_by_role("heading", name="Log in: an access and a refresh token")).to_be_visible()
    expect(page.get_by_role("link", name="API docs by Redocly")).to_be_visible()
    assert_served_by_this_server_alone(browsing)


def test_swagger_shows_the_operations_with_no_other_host(browsing):
    page = browsing.page
    page.goto("/swagger/")
    expect(page.get_by_role("heading", name=re.compile(r"^hopla API"))).to_be_visible()
    expect(page.get_by_role("button", name="POST /api/v1/auth/login/ Log in")).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert_served_by_this_server_alone(browsing)


def test_a_staff_user_logs_in_to_the_admin_and_lists_users_with_no_other_host(browsing):
    staff = UserFactory(is_staff=True, is_superuser=True)
    page = browsing.page
    page.goto("/admin/")
    page.get_by_label("Email address").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()
    page.get_by_role("link", name="Users", exact=True).click()
    expect(page.get_by_role("heading", name="Select user to change")).to_be_visible()
    expect(page.get_by_role("link", name=staff.email)).to_be_visible()
    assert_served_by_this_server_alone(browsing)
