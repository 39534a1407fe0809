"""The accounts tests' fixtures from elsewhere."""

# A real SMTP server process (aiosmtpd): the password reset email of the account pages' browser test.
from notifications.tests.smtp_server import smtp_server  # noqa: F401
