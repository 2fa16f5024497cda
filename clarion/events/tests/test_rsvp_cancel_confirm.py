"""Cancelling an RSVP asks first: the first press shows a confirmation, only the second
gives the place away. Works without JavaScript (two plain form posts)."""

from __future__ import annotations

from clarion.events.models import Rsvp

from .conftest import rsvp_post


def test_the_first_press_only_asks_and_keeps_the_place(client, event):
    manage = rsvp_post(client, event)["Location"]
    asked = client.post(manage, {"action": "cancel"})
    html = asked.content.decode()
    assert asked.status_code == 200
    assert "Cancel your RSVP?" in html and "Yes, cancel my RSVP" in html
    assert "No, keep my place" in html and "Change my RSVP" not in html
    assert Rsvp.objects.get().status == Rsvp.Status.GOING


def test_confirming_cancels(client, event):
    manage = rsvp_post(client, event)["Location"]
    done = client.post(manage, {"action": "cancel", "confirm": "yes"})
    assert done.status_code == 302
    assert Rsvp.objects.get().status == Rsvp.Status.CANCELLED
    assert "Your RSVP is cancelled." in client.get(manage).content.decode()


def test_asking_again_once_cancelled_just_shows_the_page(client, event):
    manage = rsvp_post(client, event)["Location"]
    client.post(manage, {"action": "cancel", "confirm": "yes"})
    again = client.post(manage, {"action": "cancel"})
    assert again.status_code == 302
    assert "Cancel your RSVP?" not in client.get(manage).content.decode()
