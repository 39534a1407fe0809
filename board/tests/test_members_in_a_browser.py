"""A newcomer's first minutes in a real browser: create a project from the project list, bring the team
in from its members page (add, invite, change a role, revoke, remove), and the refusals explained."""

from playwright.sync_api import Page, expect

from accounts.tests.factories import UserFactory
from board.tests.browser_board import serious_accessibility_violations, sign_in
from hopla.tests.browser import BrowsingSession
from tickets.models import Invitation, Membership, Project, Role


def members_row(page: Page, text: str):
    return page.locator("#members tbody tr").filter(has_text=text)


def test_a_newcomer_creates_a_project_and_lands_on_its_board(browsing: BrowsingSession):
    newcomer = UserFactory()
    sign_in(browsing, newcomer)
    page = browsing.page
    page.goto("/board/")
    expect(page.get_by_text("You are not a member of any project yet.")).to_be_visible()
    assert serious_accessibility_violations(page) == []

    page.get_by_label("Key").fill("web")  # typed in lower case: the key is upper case
    page.get_by_label("Name", exact=True).fill("Web <b>site</b>")
    page.get_by_role("button", name="Create project").click()
    expect(page).to_have_url(f"{browsing.server.base_url}/board/WEB/")
    expect(page.get_by_role("heading", level=1)).to_contain_text("WEB · Web <b>site</b>")
    expect(page.locator("#live-indicator")).to_have_text("Live")
    assert Membership.objects.get(project__key="WEB").role == Role.ADMIN

    page.goto("/board/")
    page.get_by_label("Key").fill("WEB")
    page.get_by_label("Name", exact=True).fill("Again")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#messages")).to_contain_text("Project WEB was not created")
    assert Project.objects.filter(key="WEB").count() == 1
    assert [error for error in browsing.errors if "409" not in error and "400" not in error] == []


def test_an_admin_brings_the_team_in_from_the_members_page(browsing: BrowsingSession, team):
    colleague = UserFactory(full_name="Grace Colleague")
    sign_in(browsing, team.admin)
    page = browsing.page
    page.goto("/board/OPS/")
    page.get_by_role("link", name="Members").click()
    expect(page.get_by_role("heading", name="OPS · members")).to_be_visible()
    assert serious_accessibility_violations(page) == []

    page.get_by_label("Email").fill(colleague.email.upper())
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#messages")).to_have_text(f"{colleague.email.upper()} was added as member.")
    expect(members_row(page, "Grace Colleague")).to_be_visible()

    page.get_by_label("Role of Grace Colleague").select_option("viewer")
    expect(page.locator("#messages")).to_have_text("Grace Colleague is now viewer.")
    assert Membership.objects.get(project=team.project, user=colleague).role == Role.VIEWER

    page.get_by_label("Email").fill("new.hire@example.com")
    page.get_by_role("combobox", name="Role", exact=True).select_option("admin")
    page.get_by_role("button", name="Add", exact=True).click()
    expect(page.locator("#messages")).to_have_text("new.hire@example.com was invited as admin; an email is on its way.")
    invitations = page.locator("#invitations tbody tr")
    expect(invitations).to_have_count(1)
    expect(invitations.first).to_contain_text("new.hire@example.com")
    page.get_by_role("button", name="Revoke the invitation of new.hire@example.com").click()
    expect(page.locator("#messages")).to_have_text("The invitation of new.hire@example.com was revoked.")
    expect(page.locator("#invitations")).to_contain_text("None.")
    assert Invitation.objects.get(email="new.hire@example.com").revoked_at is not None

    page.get_by_role("button", name="Remove Grace Colleague").click()
    expect(page.locator("#messages")).to_have_text("Grace Colleague was removed from OPS.")
    expect(members_row(page, "Grace Colleague")).to_have_count(0)

    # The last admin cannot step down: refused by the API, explained, the choice put back.
    page.get_by_label("Role of Ada Admin").select_option("member")
    expect(page.locator("#messages")).to_contain_text("The role of Ada Admin was not changed")
    expect(page.get_by_label("Role of Ada Admin")).to_have_value("admin")
    assert Membership.objects.get(project=team.project, user=team.admin).role == Role.ADMIN
    assert [error for error in browsing.errors if "409" not in error and "400" not in error] == []


def test_a_member_sees_the_team_without_controls_and_can_leave(browsing: BrowsingSession, team):
    sign_in(browsing, team.member)
    page = browsing.page
    page.goto("/board/OPS/members/")
    expect(members_row(page, "Ada Admin")).to_be_visible()
    expect(page.locator("#members select")).to_have_count(0)
    expect(page.get_by_role("button", name="Remove Ada Admin")).to_have_count(0)
    expect(page.locator("#add-member")).to_have_count(0)
    expect(page.locator("#invitations")).to_have_count(0)
    assert serious_accessibility_violations(page) == []

    page.get_by_role("button", name="Leave OPS").click()
    expect(page).to_have_url(f"{browsing.server.base_url}/board/")
    assert not Membership.objects.filter(project=team.project, user=team.member).exists()
    assert browsing.page.goto("/board/OPS/members/").status == 404  # type: ignore[union-attr]
