"""Keyed hashes of client addresses: stable enough to spot a flood or match a ban,
useless to anyone without the secret key (an unkeyed hash of an IPv4 address is
reversed by trying all four billion).

One scheme for every app: HMAC-SHA256 keyed with ``SECRET_KEY``, the first 32 hex
digits (128 bits). Stored hashes are compared with fresh ones (staff filters, bans,
waves of questions from one network), so the scheme must not change while rows
hashed with it are kept; rotating the secret key makes every stored hash stale.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress

from django.conf import settings

LENGTH = 32


def _keyed(value: str) -> str:
    digest = hmac.new(settings.SECRET_KEY.encode(), value.encode(), hashlib.sha256)
    return digest.hexdigest()[:LENGTH]


def ip_hash(ip: str | None) -> str:
    """The keyed hash of a client address, or '' for none."""
    ip = (ip or "").strip()
    return _keyed(ip) if ip else ""


def network_hash(ip: str | None) -> str:
    """The keyed hash of the network ``ip`` is in — its /24 (IPv4) or /48 (IPv6) — so
    many addresses of one office or mobile carrier count together; '' for none or for
    something that is not an address."""
    try:
        address = ipaddress.ip_address((ip or "").strip())
    except ValueError:
        return ""
    prefix = 24 if address.version == 4 else 48
    # A network's text ("203.0.113.0/24") can never equal an address's, so the two
    # kinds of hash never collide.
    return _keyed(str(ipaddress.ip_network(f"{address}/{prefix}", strict=False)))
