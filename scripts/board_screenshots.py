"""Screenshots of the board's main states for the README: `python scripts/board_screenshots.py URL EMAIL PASSWORD`.

Drives the system chromium against a running server with demo data (`manage.py seed_demo`), signed
in as EMAIL (a member or admin of the first project) through the login form; writes docs/board/*.png.
"""

import sys
from pathlib import Path

from playwright.sync_api import Page, expect, sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "board"


def shot(page: Page, name: str) -> None:
    page.screenshot(path=OUT / f"{name}.png")
    print(f"docs/board/{name}.png")


def main(base_url: str, email: str, password: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--headless", "--no-sandbox"])
        page = browser.new_page(base_url=base_url, viewport={"width": 1400, "height": 860})
        page.goto("/")
        shot(page, "login")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(password)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name="Your projects")).to_be_visible()
        shot(page, "projects")
        page.locator(".project-table a").first.click()
        expect(page.locator("#live-indicator")).to_have_text("Live")
        shot(page, "board")
        first_open = page.locator('.column[data-status="open"] .card').first
        key = first_open.get_attribute("data-key")
        page.get_by_role("button", name=f"Move {key}").focus()
        page.keyboard.press("Enter")
        shot(page, "keyboard-move")
        page.keyboard.press("Escape")
        first_open.drag_to(page.get_by_role("list", name="Closed tickets"))
        expect(page.locator("#messages")).to_contain_text("was not moved")
        shot(page, "refused-move")
        page.locator('.column[data-status="in_progress"] .card-title').first.click()
        expect(page.locator("#panel-heading")).to_be_focused()
        shot(page, "panel")
        page.locator("[data-panel-close]").first.click()
        page.get_by_role("link", name="Members").click()
        expect(page.get_by_role("heading", name="members")).to_be_visible()
        shot(page, "members")
        browser.close()


if __name__ == "__main__":
    main(*sys.argv[1:4])
