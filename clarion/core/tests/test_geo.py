"""Great-circle distances."""

from __future__ import annotations

import pytest

from clarion.core.geo import great_circle_km, great_circle_miles


def test_london_to_edinburgh_is_about_330_miles():
    # Charing Cross to Edinburgh Waverley, as the crow flies: 534 km.
    km = great_circle_km(51.5074, -0.1278, 55.9533, -3.1883)
    assert km == pytest.approx(534, abs=2)
    assert great_circle_miles(51.5074, -0.1278, 55.9533, -3.1883) == pytest.approx(km / 1.609344)


def test_a_point_is_no_distance_from_itself_and_distance_is_symmetric():
    assert great_circle_miles(52.2, 0.12, 52.2, 0.12) == 0
    there = great_circle_miles(52.2, 0.12, 51.75, -1.26)
    assert great_circle_miles(51.75, -1.26, 52.2, 0.12) == pytest.approx(there)


def test_antipodes_are_half_the_earth_round():
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(20015.1, abs=0.5)
