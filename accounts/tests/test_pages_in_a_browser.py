"""The account pages in a real browser: a person signs up, logs in, forgets their password and sets a new
one through the link emailed by a real RQ worker over SMTP to a real SMTP server process (aiosmtpd)."""

import re
import time
from email.message import Message

from django.test import override_settings
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.test_passwords import run_queued_jobs
from hopla.tests.browser import WAIT_MS, BrowsingSession
from notifications.tests.smtp_server import SmtpServer

NEW_PASSWORD = "a-brand-new-passphrase-42"


def _as_text(message: Message) -> str:
    """Its recipient and its plain-text body, decoded (the wire may carry it quoted-printable)."""
    bodies = []
    for part in message.walk():
        payload = part.get_payload(decode=True)
        if part.get_content_type() == "text/plain" and isinstance(payload, bytes):
            bodies.append(payload.decode())
    return f"To: {message['To']}\n" + "\n".join(bodies)


def send_queued_emails(smtp_server: SmtpServer, public_base_url: str) -> str:
    """The worker's turn: the web process queued the email job in Redis; a real RQ worker sends it through
    Django's SMTP backend, building links from PUBLIC_BASE_URL. Answers what the SMTP server received."""
    smtp_server.clear()
    with override_settings(
        EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=smtp_server.port,
        EMAIL_USE_TLS=False,
        PUBLIC_BASE_URL=public_base_url,
    ):
        run_queued_jobs()
    deadline = time.monotonic() + WAIT_MS / 1000
    while not smtp_server.messages() and time.monotonic() < deadline:
        time.sleep(0.05)
    return "\n".join(_as_text(message) for message in smtp_server.messages())


def test_a_person_signs_up_logs_in_and_resets_their_password_by_email(browsing: BrowsingSession, smtp_server):
    page = browsing.page
    base_url = browsing.server.base_url

    # Signs up from the login page.
    page.goto("/login/")
    page.get_by_role("link", name="Create an account").click()
    expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    page.get_by_label("Full name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("123")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("alert")).to_contain_text("This password is too short.")
    page.get_by_label("Password").fill("first-passphrase-1815")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_text("Welcome to hopla, Ada Lovelace.")).to_be_visible()
    assert page.url == f"{base_url}/board/"

    # Logs out (which lands on the login page) and in again. Waiting for that page matters: a goto
    # issued while the logout's redirect is still loading cancels it (ERR_ABORTED in the error log).
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()
    assert page.url == f"{base_url}/login/"
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill("first-passphrase-1815")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="ada@example.com")).to_be_visible()
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("heading", name="Log in")).to_be_visible()

    # Forgets the password: asks for a link.
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("Email").fill("ADA@example.com")
    page.get_by_role("button", name="Email me a link").click()
    expect(page.get_by_role("heading", name="Check your email")).to_be_visible()

    email = send_queued_emails(smtp_server, public_base_url=base_url)
    assert "To: ada@example.com" in email, email
    (link,) = re.findall(rf"{re.escape(base_url)}/password/reset/[\w-]+/[\w-]+/", email)

    # Opens the emailed link and chooses a new password.
    page.goto(link)
    expect(page.get_by_role("heading", name="Choose a new password")).to_be_visible()
    assert page.url.endswith("/set-password/")  # the token has left the address bar
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Set my password").click()
    expect(page.get_by_text("Your password has been changed. Log in with it.")).to_be_visible()

    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("link", name="ada@example.com")).to_be_visible()
    assert User.objects.get(email="ada@example.com").check_password(NEW_PASSWORD)

    # The link works once.
    page.goto(link)
    expect(page.get_by_role("heading", name="This reset link does not work")).to_be_visible()

    page.wait_for_load_state("networkidle")
    assert browsing.off_host_requests() == []
    # A page left at once (a form posted, a link followed) cancels its icon's request, which Chromium
    # may not have finished: not an error of the page.
    errors = [error for error in browsing.errors if not re.search(r"favicon\.svg: net::ERR_ABORTED$", error)]
    assert errors == []
