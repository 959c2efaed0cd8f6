"""The kernel's account primitives for web apps: reset links, the two-factor ticket, own password and preferences."""

from __future__ import annotations

import pytest

from crm_core.auth import totp
from crm_core.errors import AuthenticationError, TwoFactorRequired, ValidationError
from crm_core.signing import ExpiredLinkError, ForgedLinkError, UsedLinkError

PASSWORD = "Correct-horse-42!"
NEW = "Brand-new-horse-44!"


@pytest.fixture
def crm(crm_factory):
    app = crm_factory(core={"secret": "kernel-secret-for-the-reset-tests-0123456789"})
    app.authz.users.add("ana", email="ana@example.com", roles=["sales"], password=PASSWORD)
    app.authz.users.add("bea", roles=["sales"], password=PASSWORD)  # no e-mail address
    return app


def test_a_reset_token_works_once_and_ends_the_sessions(crm):
    issued = crm.authz.resets.issue("ANA", minutes=30)
    assert issued is not None and issued.user.name == "ana"
    crm.authz.sessions.sign_in("ana", PASSWORD)
    assert crm.authz.resets.check(issued.token).name == "ana"
    crm.authz.resets.redeem(issued.token, NEW)
    assert crm.authz.sessions.live("ana") == 0
    crm.authz.sessions.sign_in("ana", NEW)
    with pytest.raises(UsedLinkError, match="already used"):
        crm.authz.resets.redeem(issued.token, "Yet-another-horse-45!")
    actions = [e["action"] for e in crm.authz.audit.entries()]
    assert "password.reset_requested" in actions and "password.reset" in actions


def test_a_reset_token_expires_and_cannot_be_changed(crm, crm_clock):
    issued = crm.authz.resets.issue("ana@example.com", minutes=30)
    # the signature's third-last character changed (one that is certainly different: "xx" in place of the last
    # two was the same token once in about a thousand runs, and a last character carries padding bits too)
    head, char, tail = issued.token[:-3], issued.token[-3], issued.token[-2:]
    with pytest.raises(ForgedLinkError):
        crm.authz.resets.check(head + ("A" if char != "A" else "B") + tail)
    crm_clock.advance(minutes=31)
    with pytest.raises(ExpiredLinkError):
        crm.authz.resets.check(issued.token)


def test_no_token_for_an_unknown_user_one_without_e_mail_or_too_many_requests(crm):
    assert crm.authz.resets.issue("nobody") is None
    assert crm.authz.resets.issue("bea") is None
    assert [crm.authz.resets.issue("ana") is not None for _ in range(4)] == [True, True, True, False]


def test_a_weak_new_password_leaves_the_token_usable(crm):
    issued = crm.authz.resets.issue("ana")
    with pytest.raises(ValidationError):
        crm.authz.resets.redeem(issued.token, "short")
    crm.authz.resets.redeem(issued.token, NEW)


def test_two_factor_sign_in_with_a_ticket_instead_of_the_password(crm, crm_clock):
    setup = crm.authz.sessions.begin_two_factor("ana")
    key = totp._key(setup.secret)
    crm.authz.sessions.confirm_two_factor("ana", totp.totp(key, crm_clock.now().timestamp()))
    with pytest.raises(TwoFactorRequired) as required:
        crm.authz.sessions.sign_in("ana", PASSWORD)
    assert required.value.code == "otp_required"
    ticket = required.value.ticket
    with pytest.raises(AuthenticationError) as wrong:
        crm.authz.sessions.sign_in_with_ticket(ticket, "000000")
    assert wrong.value.code == "invalid_otp"
    crm_clock.advance(seconds=30)
    result = crm.authz.sessions.sign_in_with_ticket(ticket, totp.totp(key, crm_clock.now().timestamp()))
    assert result.user.name == "ana"
    crm_clock.advance(minutes=6)
    with pytest.raises(AuthenticationError) as stale:
        crm.authz.sessions.sign_in_with_ticket(ticket, totp.totp(key, crm_clock.now().timestamp()))
    assert stale.value.code == "invalid_credentials"


def test_a_user_changes_their_own_password_and_preferences(crm):
    with crm.as_user("ana"):
        with pytest.raises(AuthenticationError, match="current password is wrong"):
            crm.authz.users.change_password("ana", "wrong", NEW)
        crm.authz.users.change_password("ana", PASSWORD, NEW)
        info = crm.authz.users.set_preferences("ana", language="es", timezone="Europe/Madrid")
        assert (info.language, info.timezone) == ("es", "Europe/Madrid")
        with pytest.raises(ValidationError, match="unknown time zone"):
            crm.authz.users.set_preferences("ana", timezone="Mars/Olympus")
    crm.authz.sessions.sign_in("ana", NEW)
