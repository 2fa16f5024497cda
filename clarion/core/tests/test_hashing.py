"""Keyed hashes of client addresses: one scheme, comparable with stored hashes."""

from __future__ import annotations

import hashlib
import hmac

from clarion.core.hashing import ip_hash, network_hash


def test_an_address_hash_is_the_keyed_scheme_action_submissions_store(settings):
    # Submission.ip_hash rows and staff filters by IP were made with exactly this.
    settings.SECRET_KEY = "k" * 50
    expected = hmac.new(b"k" * 50, b"203.0.113.9", hashlib.sha256).hexdigest()[:32]
    assert ip_hash("203.0.113.9") == expected
    assert ip_hash(" 203.0.113.9 ") == expected


def test_the_hash_depends_on_the_secret_key(settings):
    before = ip_hash("203.0.113.9")
    settings.SECRET_KEY = "another-" + "x" * 50
    assert ip_hash("203.0.113.9") != before


def test_no_address_hashes_to_nothing():
    assert ip_hash(None) == ip_hash("") == ip_hash("  ") == ""
    assert network_hash(None) == network_hash("") == network_hash("not an ip") == ""


def test_addresses_in_one_network_share_a_network_hash_and_not_an_address_hash():
    assert network_hash("203.0.113.9") == network_hash("203.0.113.200")
    assert network_hash("203.0.113.9") != network_hash("203.0.114.9")
    assert network_hash("2001:db8:1:2::1") == network_hash("2001:db8:1:ffff::9")
    assert network_hash("2001:db8:1::1") != network_hash("2001:db8:2::1")
    assert ip_hash("203.0.113.9") != ip_hash("203.0.113.200")
    assert network_hash("203.0.113.9") != ip_hash("203.0.113.9")
