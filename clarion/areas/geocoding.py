"""Postcode → location, behind one interface.

The default geocoder is the offline postcode table (``areas.Postcode``, loaded by
``clarion load_postcodes``): no network, and it knows each postcode's area. Setting
``CLARION_GEOCODER_URL`` to a postcodes.io-compatible service adds an HTTP geocoder
for postcodes the table lacks (``GET <url>/postcodes/<postcode>`` answering
``{"status": 200, "result": {"postcode", "latitude", "longitude"}}``). Answers are
cached in the shared cache, so every web process benefits and a slow or failing
service costs one timeout per postcode, not one per request.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Protocol

from django.conf import settings
from django.core.cache import cache

from .postcodes import postcode_or_none
from .selectors import postcode_lookup

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 3.0
DEFAULT_CACHE_SECONDS = 7 * 86400
# An unknown postcode or a failed look-up is remembered for a short while only.
MISS_CACHE_SECONDS = 300
_MISS = "-"


@dataclass(frozen=True)
class Location:
    postcode: str
    latitude: float
    longitude: float
    area_id: int | None = None


class Geocoder(Protocol):
    def locate(self, postcode: str) -> Location | None:
        """The location of ``postcode`` (any spacing or case), or None if unknown."""


class PostcodeTableGeocoder:
    """The offline postcode table."""

    def locate(self, postcode: str) -> Location | None:
        row = postcode_lookup(postcode)
        if row is None:
            return None
        return Location(
            postcode=row.postcode,
            latitude=row.latitude,
            longitude=row.longitude,
            area_id=row.area_id,
        )


class HttpGeocoder:
    """A postcodes.io-compatible HTTP service. Never raises for a network or data
    problem: it logs and answers None, so a page using it degrades to "unknown
    postcode" instead of failing."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cache_seconds: int = DEFAULT_CACHE_SECONDS,
    ):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.cache_seconds = cache_seconds

    def _cache_key(self, postcode: str) -> str:
        return "geocode:v1:" + postcode.replace(" ", "")

    def locate(self, postcode: str) -> Location | None:
        pc = postcode_or_none(postcode)
        if pc is None:
            return None
        key = self._cache_key(pc)
        cached = cache.get(key)
        if cached == _MISS:
            return None
        if isinstance(cached, dict):
            return Location(**cached)
        location, definite = self._fetch(pc)
        if location is not None:
            cache.set(key, location.__dict__, self.cache_seconds)
        elif definite:
            cache.set(key, _MISS, MISS_CACHE_SECONDS)
        return location

    def _fetch(self, pc: str) -> tuple[Location | None, bool]:
        """(location, definite): ``definite`` is False when the service could not be
        asked (timeout, connection refused, 5xx), so the miss is not remembered long."""
        url = f"{self.base_url}/postcodes/{urllib.parse.quote(pc)}"
        request = urllib.request.Request(url, headers={"Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 (operator's URL)
                body = response.read(65536)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None, True
            logger.warning("Geocoder answered %s", exc.code)
            return None, exc.code < 500
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            logger.warning("Geocoder unreachable: %s", exc.__class__.__name__)
            return None, False
        try:
            result = json.loads(body)["result"]
            latitude, longitude = float(result["latitude"]), float(result["longitude"])
        except (ValueError, KeyError, TypeError):
            logger.warning("Geocoder answer not understood")
            return None, False
        if not (-90 <= latitude <= 90 and -180 <= longitude <= 180):
            return None, True
        return Location(postcode=pc, latitude=latitude, longitude=longitude), True


class ChainGeocoder:
    """Asks each geocoder in turn; the first answer wins."""

    def __init__(self, *geocoders: Geocoder):
        self.geocoders = geocoders

    def locate(self, postcode: str) -> Location | None:
        for geocoder in self.geocoders:
            found = geocoder.locate(postcode)
            if found is not None:
                return found
        return None


def get_geocoder() -> Geocoder:
    """The configured geocoder: the postcode table, then the HTTP service when
    ``CLARION_GEOCODER_URL`` is set (read at call time, so tests can change it)."""
    url = getattr(settings, "CLARION_GEOCODER_URL", "") or ""
    table = PostcodeTableGeocoder()
    if not url:
        return table
    return ChainGeocoder(
        table,
        HttpGeocoder(
            url,
            timeout=float(getattr(settings, "CLARION_GEOCODER_TIMEOUT", DEFAULT_TIMEOUT)),
            cache_seconds=int(
                getattr(settings, "CLARION_GEOCODER_CACHE_SECONDS", DEFAULT_CACHE_SECONDS)
            ),
        ),
    )


def geocode(postcode: str) -> Location | None:
    return get_geocoder().locate(postcode)
