"""Distances on the Earth's surface, for "events near me" and "people near a postcode".

A sphere of the mean Earth radius is within 0.5% of the true (ellipsoidal) distance
everywhere, far closer than a postcode's centre is to anyone's front door.
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0088  # the IUGG mean radius
KM_PER_MILE = 1.609344
EARTH_RADIUS_MILES = EARTH_RADIUS_KM / KM_PER_MILE


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in km between two points given in degrees
    (the haversine formula, which stays accurate for short distances)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def great_circle_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance in miles between two points given in degrees."""
    return great_circle_km(lat1, lon1, lat2, lon2) / KM_PER_MILE
