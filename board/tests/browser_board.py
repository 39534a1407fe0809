"""What the board's browser tests share: a signed-in page, the API as another client, axe-core."""

import functools
from pathlib import Path
from typing import Any

from django.test import Client
from playwright.sync_api import Page

from hopla.tests.browser import BrowsingSession

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"


def sign_in(browsing: BrowsingSession, user: Any) -> None:
    """Give the browser a session of `user`, as the login form would (the form has a test of its own)."""
    client = Client()
    client.force_login(user)
    browsing.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": browsing.server.base_url}]
    )


@functools.cache
def _axe_source() -> str:
    return AXE.read_text()


def serious_accessibility_violations(page: Page) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now.

    Evaluated through the browser's debugging protocol, which the page's Content-Security-Policy
    does not govern: axe is never served by the app.
    """
    page.evaluate(_axe_source())
    results = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{violation['id']} ({violation['impact']}): {[node['target'] for node in violation['nodes']]}"
        for violation in results
        if violation["impact"] in ("serious", "critical")
    ]
