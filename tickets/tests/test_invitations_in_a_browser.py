"""An invitation in a real browser: an admin invites an email through the API, a real RQ worker sends
the link over SMTP to a real SMTP server process, and the invited person signs up through it and lands
on the project's board."""

import re
from urllib.parse import urlsplit

from playwright.sync_api import expect

from accounts.tests.factories import UserFactory
from accounts.tests.test_passwords import run_queued_jobs
from hopla.tests.browser import BrowsingSession
from tickets.models import Membership, Role
from tickets.tests.conftest import client_for
from tickets.tests.factories import MembershipFactory, ProjectFactory
from tickets.tests.test_invitations import link_in


def test_an_invited_person_signs_up_through_the_emailed_link_and_joins(browsing: BrowsingSession, smtp, settings):
    page = browsing.page
    base_url = browsing.server.base_url
    settings.PUBLIC_BASE_URL = base_url  # the worker builds the link from it
    admin = UserFactory(full_name="Ada Admin")
    project = ProjectFactory(key="OPS", name="Operations", created_by=admin)
    MembershipFactory(project=project, user=admin, role=Role.ADMIN)

    response = client_for(admin).post(
        "/api/v1/projects/OPS/members/", {"user": "new.hire@example.com", "role": "member"}, format="json"
    )
    assert response.status_code == 201, response.content
    run_queued_jobs()
    (message,) = smtp.messages()
    link = link_in(message)
    assert urlsplit(link).netloc == urlsplit(base_url).netloc

    page.goto(link)
    expect(page.get_by_role("heading", name="Join Operations")).to_be_visible()
    expect(page.get_by_text("Ada Admin invited new.hire@example.com")).to_be_visible()
    email = page.get_by_label("Email")
    expect(email).to_have_value("new.hire@example.com")
    expect(email).to_have_attribute("readonly", "")
    page.get_by_label("Full name").fill("New Hire")
    page.get_by_label("Password").fill("first-passphrase-1815")
    page.get_by_role("button", name="Sign up and join").click()
    expect(page.get_by_text("Welcome to hopla, New Hire. You have joined Operations as member.")).to_be_visible()
    assert page.url == f"{base_url}/board/OPS/"
    assert Membership.objects.get(project=project, user__email="new.hire@example.com").role == Role.MEMBER

    # The link works once. (The board finishes loading first: leaving it while it asks for its unread
    # count cancels that request, ERR_ABORTED in the error log.)
    page.wait_for_load_state("networkidle")
    page.goto(link)
    expect(page.get_by_role("heading", name="This invitation does not work")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("already been used")

    page.wait_for_load_state("networkidle")
    assert browsing.off_host_requests() == []
    # As in accounts' browser test: a page left at once may cancel its icon's request. The refusal's page
    # answers 400, which Chromium logs: the one error expected.
    errors = [error for error in browsing.errors if not re.search(r"favicon\.svg: net::ERR_ABORTED$", error)]
    assert len(errors) == 1, errors
    (refusal,) = errors
    assert "status of 400 (Bad Request)" in refusal, errors
    assert "/signup/?invitation=" in refusal, errors
