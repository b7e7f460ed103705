"""The SSRF guard refuses what is not the public internet; signatures follow Stripe's scheme."""

import time

import pytest
import stripe

from shop.webhooks import signing
from shop.webhooks.ssrf import TargetRefused, check_target

PUBLIC = "93.184.216.34"  # a literal public address: no DNS needed in the test


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.1/hook", "loopback"),
    ("http://2130706433/hook", "loopback"),  # 127.0.0.1 as one decimal number
    ("http://0x7f000001/hook", "loopback"),
    ("http://localhost:8000/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),
    ("http://10.0.0.5/hook", "private"),
    ("http://172.16.3.4/hook", "private"),
    ("http://192.168.1.1/hook", "private"),
    ("http://169.254.169.254/latest/meta-data", "link-local"),
    ("http://[fe80::1]/hook", "link-local"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://100.64.0.1/hook", "globally routable"),
    ("http://[fd00::1]/hook", "private"),
    # IPv6 transition addresses that carry a private IPv4 address inside them.
    ("http://[2002:7f00:1::]/hook", "6to4 address wrapping 127.0.0.1, a loopback"),
    ("http://[2002:a00:5::1]/hook", "6to4 address wrapping 10.0.0.5, a private"),
    ("http://[2002:a9fe:a9fe::]/hook", "6to4 address wrapping 169.254.169.254, a link-local"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/hook", "private|loopback"),  # Teredo
    ("http://[64:ff9b::7f00:1]/hook", "reserved|loopback"),  # NAT64
    ("http://[::127.0.0.1]/hook", "reserved|loopback"),  # IPv4-compatible
])
def test_private_targets_are_refused(url, reason):
    with pytest.raises(TargetRefused, match=reason):
        check_target(url, allow_private=False)


def test_private_targets_pass_when_allowed():
    assert check_target("http://127.0.0.1:9/hook", allow_private=True)


@pytest.mark.parametrize("url, mentions", [
    (None, "http"),
    ("", "http"),
    (42, "http"),
    ("ftp://example.com/x", "https://"),
    ("javascript:alert(1)", "https://"),
    ("https://", "no host"),
    (f"https://user:pass@{PUBLIC}/x", "user name"),
    (f"https://{PUBLIC}/a b", "spaces"),
    (f"https://{PUBLIC}/\x00", "control"),
    (f"https://{PUBLIC}:99999/", "not a valid URL"),
    ("https://" + "a" * 2100 + ".com/", "longer"),
    ("https://no-such-host.invalid/hook", "cannot be resolved"),
])
def test_malformed_urls_are_refused(url, mentions):
    with pytest.raises(TargetRefused, match=mentions):
        check_target(url, allow_private=True)


def test_a_public_address_passes():
    assert check_target(f"https://{PUBLIC}/hooks/peakshop", allow_private=False)


def test_a_6to4_address_of_a_public_ipv4_address_passes():
    assert check_target("https://[2002:5db8:d822::1]/hook", allow_private=False)


@pytest.mark.parametrize("port", ["0", "00", "65536", "99999", "x"])
def test_ports_outside_1_to_65535_are_refused(port):
    with pytest.raises(TargetRefused, match="port must be a number from 1 to 65535"):
        check_target(f"http://{PUBLIC}:{port}/hook", allow_private=True)


@pytest.mark.parametrize("port", ["1", "65535"])
def test_ports_at_the_edges_pass(port):
    assert check_target(f"http://{PUBLIC}:{port}/hook", allow_private=False)


def test_stripes_own_library_verifies_our_signature():
    """The scheme is Stripe's: stripe-python's verifier accepts our header as it stands."""
    secret = signing.new_secret()
    body = b'{"type":"incident.opened"}'
    header = signing.signature_header(secret, int(time.time()), body)
    assert stripe.WebhookSignature.verify_header(body.decode(), header, secret, tolerance=300)
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.WebhookSignature.verify_header(body.decode() + " ", header, secret,
                                              tolerance=300)


def test_verify_refuses_tampering_old_and_wrong_secrets():
    secret, now = signing.new_secret(), int(time.time())
    body = b'{"a":1}'
    header = signing.signature_header(secret, now, body)
    assert signing.verify(body, header, secret, now)
    assert not signing.verify(b'{"a":2}', header, secret, now)
    assert not signing.verify(body, header, signing.new_secret(), now)
    assert not signing.verify(body, header, secret, now + 301)
    assert not signing.verify(body, "garbage", secret, now)
    assert not signing.verify(body, f"t={now}", secret, now)
