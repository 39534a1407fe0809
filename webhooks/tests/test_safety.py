"""Which webhook targets are refused: every class of address hopla must not send to, however written."""

import pytest

from webhooks.safety import UnsafeUrl, check_address, check_url
from webhooks.secrets import secret_generate, secret_problem

REFUSED = [
    "127.0.0.1",  # loopback
    "127.1.2.3",
    "::1",
    "10.0.0.8",  # private
    "172.16.5.4",
    "192.168.1.1",
    "fd00::1",
    "169.254.169.254",  # link-local: cloud metadata
    "fe80::1",
    "224.0.0.1",  # multicast
    "ff02::1",
    "0.0.0.0",  # unspecified
    "::",
    "240.0.0.1",  # reserved
    "100.64.0.1",  # shared address space: not public
    "::ffff:127.0.0.1",  # IPv4-mapped IPv6 of each refused class
    "::ffff:169.254.169.254",
    "::ffff:10.1.1.1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_each_refused_class_of_address_is_refused(address, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeUrl) as refusal:
        check_address(address)
    assert refusal.value.get_codes() == "unsafe_url"


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address, settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    check_address(address)


def test_an_allowed_network_exempts_exactly_its_addresses(settings):
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    check_address("127.0.0.1")
    check_address("::ffff:127.0.0.1")
    with pytest.raises(UnsafeUrl):
        check_address("127.0.0.2")


@pytest.mark.parametrize(
    ("url", "allow_http"),
    [
        ("http://example.com/hook", False),  # http without WEBHOOK_ALLOW_HTTP
        ("ftp://example.com/hook", True),
        ("https://user:pass@example.com/hook", False),
        ("https:///hook", False),
        ("https://example.com:99999/hook", False),  # a port out of range
        ("https://localhost/hook", False),  # resolves to loopback
        ("https://127.0.0.1/hook", False),
        ("https://[::1]/hook", False),
        ("https://0x7f000001/hook", False),  # 127.0.0.1 written as a number
        ("https://2130706433/hook", False),
        ("https://no-such-host.invalid/hook", False),
    ],
)
def test_unsafe_or_malformed_urls_are_refused(url, allow_http, settings):
    settings.WEBHOOK_ALLOW_HTTP = allow_http
    settings.WEBHOOK_ALLOWED_NETWORKS = []
    with pytest.raises(UnsafeUrl):
        check_url(url)


def test_an_allowed_loopback_receiver_over_http_is_accepted_when_configured(settings):
    settings.WEBHOOK_ALLOW_HTTP = True
    settings.WEBHOOK_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    check_url("http://127.0.0.1:8080/hook")


def test_generated_secrets_are_in_standard_webhooks_form():
    secret = secret_generate()
    assert secret.startswith("whsec_")
    assert secret_problem(secret) is None
    assert secret_generate() != secret


@pytest.mark.parametrize("secret", ["abc", "whsec_", "whsec_not*base64", "whsec_" + "QUJD", "whsec_" + "A" * 200])
def test_secrets_not_in_whsec_form_are_named(secret):
    assert secret_problem(secret)
