"""Webhook secrets in Standard Webhooks' form: `whsec_` + base64 of 24 to 64 random bytes."""

import base64
import binascii
import secrets

PREFIX = "whsec_"
MIN_KEY_BYTES, MAX_KEY_BYTES = 24, 64


def secret_generate() -> str:
    return PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_problem(secret: str) -> str | None:
    """Why `secret` is not a usable webhook secret, or None when it is."""
    if not secret.startswith(PREFIX):
        return f"A webhook secret starts with {PREFIX}."
    try:
        key = base64.b64decode(secret[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"A webhook secret is {PREFIX} followed by base64."
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        return f"A webhook secret's key is {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes (base64 of them after {PREFIX})."
    return None
