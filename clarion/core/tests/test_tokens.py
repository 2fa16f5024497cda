"""Signed tokens: links round-trip, expire, and refuse tampering or another salt."""

from __future__ import annotations

from unittest import mock

from django.core import signing

from clarion.core import tokens


def test_a_signed_value_comes_back_under_its_own_salt():
    token = tokens.sign([7, 42], salt=tokens.EVENTS_RSVP_MANAGE, compress=True)
    assert tokens.unsign(token, salt=tokens.EVENTS_RSVP_MANAGE) == [7, 42]


def test_a_token_signed_for_one_kind_of_link_is_refused_as_another():
    token = tokens.sign(42, salt=tokens.ACTIONS_THANKS)
    assert tokens.unsign(token, salt=tokens.ACTIONS_CONFIRM) is None


def test_a_tampered_token_is_refused():
    token = tokens.sign({"d": 1}, salt=tokens.DONATIONS_CANCEL)
    value, _, signature = token.rpartition(":")
    forged = tokens.sign({"d": 2}, salt=tokens.DONATIONS_CANCEL).rpartition(":")[0]
    assert tokens.unsign(f"{forged}:{signature}", salt=tokens.DONATIONS_CANCEL) is None
    assert tokens.unsign(token[:-1], salt=tokens.DONATIONS_CANCEL) is None
    assert tokens.unsign(value, salt=tokens.DONATIONS_CANCEL) is None


def test_an_expired_token_is_refused_and_a_fresh_one_accepted():
    with mock.patch("time.time", return_value=1_700_000_000):
        token = tokens.sign(5, salt=tokens.QA_CONFIRM)
    with mock.patch("time.time", return_value=1_700_000_000 + 3600):
        assert tokens.unsign(token, salt=tokens.QA_CONFIRM, max_age=3601) == 5
        assert tokens.unsign(token, salt=tokens.QA_CONFIRM, max_age=3599) is None


def test_empty_overlong_and_non_string_input_is_refused():
    token = tokens.sign("x" * 10, salt=tokens.MAILING_LINK)
    assert tokens.unsign("", salt=tokens.MAILING_LINK) is None
    assert tokens.unsign(None, salt=tokens.MAILING_LINK) is None
    assert tokens.unsign(["not", "a", "string"], salt=tokens.MAILING_LINK) is None  # type: ignore[arg-type]
    long_value = tokens.sign("y" * tokens.MAX_LENGTH, salt=tokens.MAILING_LINK)
    assert tokens.unsign(long_value, salt=tokens.MAILING_LINK) is None
    assert tokens.unsign(token, salt=tokens.MAILING_LINK) == "x" * 10


def test_links_already_sent_keep_working():
    # Tokens made before this module existed were plain django.core.signing output
    # under these salt strings; each salt must keep its value.
    sent = {
        "clarion.mailing-link": tokens.MAILING_LINK,
        "clarion.actions.confirm": tokens.ACTIONS_CONFIRM,
        "clarion.actions.thanks": tokens.ACTIONS_THANKS,
        "clarion.events.rsvp-manage": tokens.EVENTS_RSVP_MANAGE,
        "clarion.events.host": tokens.EVENTS_HOST,
        "clarion.qa.confirm": tokens.QA_CONFIRM,
        "clarion.people.proposed-change": tokens.PEOPLE_PROPOSED_CHANGE,
        "clarion.donations.cancel": tokens.DONATIONS_CANCEL,
        "clarion.donations.test-checkout": tokens.DONATIONS_TEST_CHECKOUT,
    }
    for old_salt, salt in sent.items():
        token = signing.dumps([1, "a"], salt=old_salt, compress=True)
        assert tokens.unsign(token, salt=salt) == [1, "a"], old_salt
    embed = signing.TimestampSigner(salt="clarion.actions.embed-form").sign("12")
    assert tokens.unstamp(embed, salt=tokens.ACTIONS_EMBED_FORM, max_age=86400) == "12"
    assert tokens.QA_SUPPORTER_COOKIE == "clarion.qa.supporter"
    assert tokens.MAILINGS_RECIPIENT == "clarion.mailings.recipient"
    assert tokens.MAILINGS_VERP == "clarion.mailings.verp"


def test_every_salt_is_distinct():
    salts = [v for k, v in vars(tokens).items() if k.isupper() and isinstance(v, str)]
    assert len(salts) == len(set(salts))


def test_a_stamp_round_trips_expires_and_refuses_tampering():
    with mock.patch("time.time", return_value=1_700_000_000):
        token = tokens.stamp("12", salt=tokens.ACTIONS_EMBED_FORM)
    with mock.patch("time.time", return_value=1_700_000_000 + 60):
        assert tokens.unstamp(token, salt=tokens.ACTIONS_EMBED_FORM, max_age=86400) == "12"
        assert tokens.unstamp(token, salt=tokens.ACTIONS_EMBED_FORM, max_age=30) is None
        assert tokens.unstamp("13" + token[2:], salt=tokens.ACTIONS_EMBED_FORM) is None
        assert tokens.unstamp(token, salt=tokens.MAILING_LINK) is None
