"""Signed places and passes: nobody can forge a better number or reuse a pass elsewhere."""

import hashlib
import time

import pytest
from itsdangerous import URLSafeTimedSerializer

from shop.waiting_room.tickets import PASS_SALT, PLACE_MAX_AGE_S, PLACE_SALT, Place, Tickets


@pytest.fixture
def tickets():
    return Tickets("test-secret", pass_ttl_s=600)


def _signed_long_ago(secret: str, salt: str, body, age_s: int) -> str:
    """A token as it was signed `age_s` ago: what an old cookie looks like."""
    class Past(URLSafeTimedSerializer):
        pass

    serializer = Past(secret, salt=salt, signer_kwargs={"digest_method": hashlib.sha256})
    signer_class = serializer.signer

    class PastSigner(signer_class):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_s

    serializer.signer = PastSigner
    return serializer.dumps(body)


def test_a_place_reads_back_for_its_shop_only(tickets):
    token = tickets.place("acme", 42)
    assert tickets.read_place(token, "acme") == Place("acme", 42)
    assert tickets.read_place(token, "other-shop") is None


@pytest.mark.parametrize("mangle", [
    lambda token: token[:-2] + ("AA" if not token.endswith("AA") else "BB"),  # signature
    lambda token: token.replace(token.split(".")[0], "WyJhY21lIiwxXQ"),       # ["acme",1]
    lambda token: "",
    lambda token: "not-a-ticket",
])
def test_a_tampered_place_is_no_place(tickets, mangle):
    assert tickets.read_place(mangle(tickets.place("acme", 42)), "acme") is None


def test_a_place_signed_with_another_key_is_refused(tickets):
    forged = Tickets("guessed-secret", pass_ttl_s=600).place("acme", 1)
    assert tickets.read_place(forged, "acme") is None


def test_a_pass_is_not_a_place_and_a_place_is_not_a_pass(tickets):
    assert tickets.read_place(tickets.admission("acme"), "acme") is None
    assert not tickets.has_pass(tickets.place("acme", 1), "acme")


def test_a_pass_lets_in_to_its_shop_until_it_expires(tickets):
    assert tickets.has_pass(tickets.admission("acme"), "acme")
    assert not tickets.has_pass(tickets.admission("acme"), "other-shop")
    old = _signed_long_ago("test-secret", PASS_SALT, "acme", age_s=601)
    assert not tickets.has_pass(old, "acme")
    assert tickets.has_pass(_signed_long_ago("test-secret", PASS_SALT, "acme", 300), "acme")


def test_an_old_place_is_forgotten(tickets):
    old = _signed_long_ago("test-secret", PLACE_SALT, ["acme", 3], PLACE_MAX_AGE_S + 5)
    assert tickets.read_place(old, "acme") is None


@pytest.mark.parametrize("body", [["acme", 0], ["acme", -4], ["acme", True], ["acme", "7"],
                                  ["acme"], "acme", None])
def test_a_well_signed_place_with_a_strange_body_is_refused(body):
    token = _signed_long_ago("test-secret", PLACE_SALT, body, age_s=0)
    assert Tickets("test-secret", 600).read_place(token, "acme") is None
