"""The geocoder interface: the offline postcode table, and a postcodes.io-compatible
HTTP geocoder tested against a real HTTP server on loopback."""

from __future__ import annotations

import datetime
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

import pytest
from django.urls import reverse
from django.utils import timezone

from clarion.areas.geocoding import (
    ChainGeocoder,
    HttpGeocoder,
    Location,
    PostcodeTableGeocoder,
    geocode,
    get_geocoder,
)
from clarion.events.models import Event
from clarion.events.services import event_save

# What the stand-in service knows, shaped like postcodes.io's answers.
KNOWN = {
    "LS6 1AA": {
        "postcode": "LS6 1AA",
        "latitude": 53.8190,
        "longitude": -1.5760,
        "admin_ward": "Headingley",
    },
    "LS1 4AP": {
        "postcode": "LS1 4AP",
        "latitude": 1.0,
        "longitude": 1.0,
    },  # never asked: the table knows it
}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        server = self.server
        server.requests.append(self.path)
        if server.mode == "slow":
            time.sleep(1.5)
        if server.mode == "error":
            self.send_response(503)
            self.end_headers()
            return
        if server.mode == "garbage":
            self._send(200, b"<html>not json</html>")
            return
        prefix = "/postcodes/"
        pc = unquote(self.path[len(prefix) :]) if self.path.startswith(prefix) else ""
        if pc in KNOWN:
            self._send(200, json.dumps({"status": 200, "result": KNOWN[pc]}).encode())
        else:
            self._send(404, json.dumps({"status": 404, "error": "Postcode not found"}).encode())

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def postcodes_service():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.requests = []
    server.mode = "ok"
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_table_geocoder_knows_loaded_postcodes_and_their_area(areas):
    found = PostcodeTableGeocoder().locate("ls14ap")
    assert found == Location(
        postcode="LS1 4AP", latitude=53.7997, longitude=-1.5492, area_id=areas.leeds_central.pk
    )
    assert PostcodeTableGeocoder().locate("SW1A 1AA") is None
    assert PostcodeTableGeocoder().locate("not a postcode") is None


def test_default_geocoder_is_the_table(areas, settings):
    settings.CLARION_GEOCODER_URL = ""
    assert isinstance(get_geocoder(), PostcodeTableGeocoder)
    assert geocode("LS6 1AA") is None


def test_http_geocoder_reads_a_postcodes_io_answer_and_caches_it(db, postcodes_service):
    geocoder = HttpGeocoder(postcodes_service.url, timeout=2)
    found = geocoder.locate("ls6 1aa")
    assert found == Location(postcode="LS6 1AA", latitude=53.8190, longitude=-1.5760)
    assert postcodes_service.requests == ["/postcodes/LS6%201AA"]
    assert geocoder.locate("LS61AA") == found
    assert len(postcodes_service.requests) == 1  # the second answer came from the cache


def test_http_geocoder_unknown_postcode_is_none_and_remembered(db, postcodes_service):
    geocoder = HttpGeocoder(postcodes_service.url, timeout=2)
    assert geocoder.locate("LS99 9ZZ") is None
    assert geocoder.locate("LS99 9ZZ") is None
    assert len(postcodes_service.requests) == 1
    assert geocoder.locate("nonsense") is None  # invalid: never sent
    assert len(postcodes_service.requests) == 1


@pytest.mark.parametrize("mode", ["error", "garbage"])
def test_http_geocoder_failures_are_none_not_errors(db, postcodes_service, mode):
    postcodes_service.mode = mode
    assert HttpGeocoder(postcodes_service.url, timeout=2).locate("LS6 1AA") is None


def test_http_geocoder_gives_up_after_its_timeout(db, postcodes_service):
    postcodes_service.mode = "slow"
    started = time.monotonic()
    assert HttpGeocoder(postcodes_service.url, timeout=0.3).locate("LS6 1AA") is None
    assert time.monotonic() - started < 1.4


def test_unreachable_service_is_none(db):
    assert HttpGeocoder("http://127.0.0.1:9", timeout=0.5).locate("LS6 1AA") is None


def test_configured_geocoder_asks_the_table_first_then_the_service(
    areas, settings, postcodes_service
):
    settings.CLARION_GEOCODER_URL = postcodes_service.url
    settings.CLARION_GEOCODER_TIMEOUT = 2
    geocoder = get_geocoder()
    assert isinstance(geocoder, ChainGeocoder)
    table_hit = geocode("LS1 4AP")
    assert table_hit.latitude == 53.7997 and table_hit.area_id == areas.leeds_central.pk
    assert postcodes_service.requests == []
    assert geocode("LS6 1AA").latitude == 53.8190
    assert postcodes_service.requests == ["/postcodes/LS6%201AA"]


# --- The event finder through the geocoder and "use my location" ------------------


def _event(area, postcode, title):
    start = timezone.now() + datetime.timedelta(days=3)
    return event_save(
        event=Event(
            title=title,
            kind=Event.Kind.CANVASS,
            area=area,
            postcode=postcode,
            starts_at=start,
            ends_at=start + datetime.timedelta(hours=2),
        )
    )


def test_finder_uses_the_http_geocoder_for_postcodes_the_table_lacks(
    client, areas, settings, postcodes_service
):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    settings.CLARION_GEOCODER_URL = ""
    missing = client.get(reverse("events:find"), {"postcode": "LS6 1AA", "radius": 5})
    assert missing.status_code == 400
    assert "We don&#x27;t know that postcode." in missing.content.decode()
    settings.CLARION_GEOCODER_URL = postcodes_service.url
    found = client.get(reverse("events:find"), {"postcode": "LS6 1AA", "radius": 5})
    body = found.content.decode()
    assert found.status_code == 200
    assert "1 event near LS6 1AA" in body and "City Ward doorstep" in body


def test_finder_accepts_lat_lng_without_a_postcode(client, areas):
    _event(areas.leeds_central, "LS1 4AP", "City Ward doorstep")
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep")
    response = client.get(reverse("events:find"), {"lat": "53.801", "lng": "-1.550", "radius": 10})
    body = response.content.decode()
    assert response.status_code == 200
    assert "1 event near you" in body
    assert "City Ward doorstep" in body and "Easton doorstep" not in body
    assert 'src="/static/clarion/find_location.js"' in body
    assert "<script>" not in body  # no inline script (CSP)


def test_a_postcode_wins_over_lat_lng(client, areas):
    _event(areas.bristol_east, "BS5 6XX", "Easton doorstep")
    body = client.get(
        reverse("events:find"), {"postcode": "BS5 0HE", "lat": "53.8", "lng": "-1.55"}
    ).content.decode()
    assert "1 event near BS5 0HE" in body and "Easton doorstep" in body


@pytest.mark.parametrize(
    "query",
    [
        {"lat": "91", "lng": "0"},
        {"lat": "nan", "lng": "0"},
        {"lat": "53.8"},
        {"lat": "x", "lng": "y"},
        {"radius": "10"},
    ],
)
def test_bad_or_missing_location_is_a_form_error(client, areas, query):
    response = client.get(reverse("events:find"), query)
    assert response.status_code == 400
    assert "error" in response.content.decode()
