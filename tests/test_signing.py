"""crm_core.signing: one key per app, one signer per purpose, one error family."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import ConfigError, ValidationError
from crm_core.signing import (
    ExpiredLinkError,
    ForgedLinkError,
    LinkError,
    LinkSigner,
    OutOfScopeLinkError,
    UnknownLinkError,
    UsedLinkError,
    derive_key,
    legacy_key,
    secret_key,
    signer,
)

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
KEY = b"k" * 32


def test_values_and_expiry_read_back():
    token = LinkSigner(KEY, "test.purpose").sign([7, "abc"], expires_at=NOW + dt.timedelta(hours=1))
    values, expires_at = LinkSigner(KEY, "test.purpose").read(token, now=NOW)
    assert values == [7, "abc"] and expires_at == NOW + dt.timedelta(hours=1)
    assert token.isascii() and all(c.isalnum() or c in "-_." for c in token)
    # without an expiry the link lives for ever
    assert LinkSigner(KEY, "p").read(LinkSigner(KEY, "p").sign([1]), now=NOW + dt.timedelta(days=10**4)) == ([1], None)


def test_expired_link_says_when():
    token = LinkSigner(KEY, "p").sign([1], expires_at=NOW)
    with pytest.raises(ExpiredLinkError, match="this voucher link expired on 2026-03-01 12:00 UTC") as info:
        LinkSigner(KEY, "p").read(token, now=NOW, what="voucher link")
    assert (info.value.code, info.value.http_status, info.value.expires_at) == ("expired", 410, NOW)
    # the caller that checks expiry itself (it needs the database first) gets the time back
    assert LinkSigner(KEY, "p").read(token)[1] == NOW


@pytest.mark.parametrize(
    "token",
    ["", "x", "abc.def", LinkSigner(KEY, "p").sign([1])[:-3], LinkSigner(KEY, "p").sign([1]) + "x"],
)
def test_damaged_links_are_forged(token):
    with pytest.raises(ForgedLinkError, match="damaged, cut short, or was changed") as info:
        LinkSigner(KEY, "p").read(token)
    assert (info.value.code, info.value.http_status) == ("forged", 403)


def test_another_key_or_another_purpose_does_not_verify():
    token = LinkSigner(KEY, "portal.unsubscribe").sign([1, 2])
    with pytest.raises(ForgedLinkError):
        LinkSigner(b"o" * 32, "portal.unsubscribe").read(token)
    with pytest.raises(ForgedLinkError):
        LinkSigner(KEY, "portal.confirm").read(token)  # a link of one kind is never taken for another


def test_the_error_family():
    for cls, code, status in (
        (ForgedLinkError, "forged", 403),
        (ExpiredLinkError, "expired", 410),
        (UsedLinkError, "used", 410),
        (UnknownLinkError, "unknown", 404),
        (OutOfScopeLinkError, "out_of_scope", 403),
    ):
        assert issubclass(cls, LinkError) and issubclass(cls, ValidationError)
        assert (cls.code, cls.http_status) == (code, status)


def test_derived_keys_differ_per_purpose():
    assert derive_key(KEY, "session") != derive_key(KEY, "csrf") != KEY
    assert derive_key(KEY, "session") == derive_key(KEY, "session")


def test_the_key_is_made_once_and_shared_by_every_app_on_the_database(crm_factory, crm_db_url):
    first = crm_factory()
    key = secret_key(first)
    assert len(key) >= 40
    second = crm_factory(migrate=False)
    assert secret_key(second) == key
    token = signer(first, "p").sign([1])
    assert signer(second, "p").read(token) == ([1], None)
    assert legacy_key(first, "portal") is None


@pytest.mark.sqlite_only
def test_a_configured_key_is_used_and_a_short_one_refused(crm_factory):
    app = crm_factory(core={"secret": "s" * 32})
    assert secret_key(app) == b"s" * 32
    with pytest.raises(ConfigError, match=r"crm\.secret is 5 characters long; use at least 32"):
        secret_key(crm_factory(core={"secret": "short"}))


@pytest.mark.sqlite_only
def test_the_secret_is_redacted(crm_factory):
    app = crm_factory(core={"secret": "s" * 32})
    assert "s" * 32 not in repr(app.config.core)
