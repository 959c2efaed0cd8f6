"""Sign-in primitives: Argon2id passwords, the password policy, the back-off, sessions and TOTP."""

from __future__ import annotations

import base64

import pytest

from crm_core.auth import passwords, totp
from crm_core.errors import AuthenticationError, UserDisabledError, ValidationError

PASSWORD = "correct horse battery staple"


@pytest.fixture
def crm(crm_factory):
    app = crm_factory(
        core={
            "auth": {
                "signin_max_failures": 3,
                "signin_address_max_failures": 5,
                "session_idle_minutes": 30,
                "session_max_hours": 8,
            }
        }
    )
    app.authz.users.add("ana", password=PASSWORD)
    return app


# -- passwords ---------------------------------------------------------------


def test_passwords_are_argon2id_with_the_owasp_parameters(crm):
    from crm_core.auth.models import User

    with crm.activate():
        stored = User.get(User.name == "ana").password_hash
    assert stored.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert passwords.verify(stored, PASSWORD) and not passwords.verify(stored, PASSWORD + "x")


def test_a_hash_with_old_parameters_is_replaced_at_sign_in(crm):
    import argon2

    from crm_core.auth.models import User

    old = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    with crm.transaction():
        User.update(password_hash=old).where(User.name == "ana").execute()
    crm.authz.sessions.sign_in("ana", PASSWORD)
    with crm.activate():
        new = User.get(User.name == "ana").password_hash
    assert new != old and new.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert crm.authz.audit.entries(action="signin.succeeded")[0]["detail"]["rehashed"] is True


@pytest.mark.parametrize(
    "password, message",
    [
        ("short pw", "too short: 8 characters, at least 12"),
        ("qwertyqwerty", "one of the most common passwords"),
        ("1qaz2wsx3edc", "one of the most common passwords"),
        ("ana-is-my-name-1", "contains the user name"),
        ("aaaaaaaaaaaaaaa", "too few characters"),
        ("x" * 1025, "too long"),
    ],
)
def test_weak_passwords_are_refused(crm, password, message):
    with pytest.raises(ValidationError, match=message):
        crm.authz.users.set_password("ana", password)


def test_the_common_password_list_ships_with_the_package():
    assert passwords.is_common("password") and passwords.is_common("QWERTY123456")
    assert len(passwords._common()) > 4000
    assert not passwords.is_common(PASSWORD)


# -- sign-in and its limits ------------------------------------------------------


def test_sign_in_starts_a_session_and_stamps_the_user(crm, crm_clock):
    result = crm.authz.sessions.sign_in("ANA", PASSWORD, address="10.0.0.1")
    assert result.user.name == "ana" and result.user.last_sign_in_at == crm_clock.now()
    assert crm.authz.sessions.lookup(result.session_key).name == "ana"
    entry = crm.authz.audit.entries()[0]
    assert (entry["action"], entry["user"], entry["address"]) == ("signin.succeeded", "ana", "10.0.0.1")


def test_an_unknown_name_and_a_wrong_password_get_one_answer(crm):
    for name in ("ana", "nobody"):
        with pytest.raises(AuthenticationError, match="wrong user name or password") as err:
            crm.authz.sessions.sign_in(name, "wrong password here")
        assert err.value.code == "invalid_credentials" and err.value.http_status == 401
    assert [e["action"] for e in crm.authz.audit.entries()][:2] == ["signin.failed", "signin.failed"]


def test_failures_back_off_per_user_across_processes(crm, crm_factory, crm_clock, crm_db_url):
    for _ in range(3):
        with pytest.raises(AuthenticationError):
            crm.authz.sessions.sign_in("ana", "wrong password!!")
    # another app on the same database (another process) sees the same failures
    other = crm_factory(database=crm_db_url, migrate=False, core={"auth": {"signin_max_failures": 3}})
    with pytest.raises(AuthenticationError, match="too many failed sign-ins for 'ana'; try again in 30 seconds") as err:
        other.authz.sessions.sign_in("ana", PASSWORD)
    assert err.value.code == "signin_throttled"
    crm_clock.advance(seconds=31)
    with pytest.raises(AuthenticationError, match="wrong user name"):
        crm.authz.sessions.sign_in("ana", "wrong password!!")  # the 4th failure doubles the wait
    crm_clock.advance(seconds=31)
    with pytest.raises(AuthenticationError, match="try again in 29 seconds"):  # 60 s after the 4th failure
        crm.authz.sessions.sign_in("ana", PASSWORD)
    crm_clock.advance(seconds=29)
    crm.authz.sessions.sign_in("ana", PASSWORD)  # success clears the user's failures
    assert crm.authz.sessions.wait_seconds("ana") == 0


def test_failures_back_off_per_address(crm):
    for i in range(5):
        with pytest.raises(AuthenticationError):
            crm.authz.sessions.sign_in(f"guess{i}", "wrong password!!", address="203.0.113.9")
    with pytest.raises(AuthenticationError, match="or from this address") as err:
        crm.authz.sessions.sign_in("ana", PASSWORD, address="203.0.113.9")
    assert err.value.code == "signin_throttled"
    crm.authz.sessions.sign_in("ana", PASSWORD, address="198.51.100.1")


def test_a_disabled_user_cannot_sign_in(crm):
    crm.authz.users.disable("ana")
    with pytest.raises(UserDisabledError, match="'ana' is disabled") as err:
        crm.authz.sessions.sign_in("ana", PASSWORD)
    assert err.value.code == "user_disabled"
    assert crm.authz.audit.entries()[0]["detail"]["reason"] == "user disabled"


# -- sessions ------------------------------------------------------------------


def test_sessions_expire_when_idle(crm, crm_clock):
    key = crm.authz.sessions.sign_in("ana", PASSWORD).session_key
    crm_clock.advance(minutes=29)
    crm.authz.sessions.lookup(key)  # touches it
    crm_clock.advance(minutes=29)
    crm.authz.sessions.lookup(key)
    crm_clock.advance(minutes=30)
    with pytest.raises(AuthenticationError, match="idle too long") as err:
        crm.authz.sessions.lookup(key)
    assert err.value.code == "session_expired"
    with pytest.raises(AuthenticationError, match="has ended"):
        crm.authz.sessions.lookup(key)


def test_sessions_expire_absolutely(crm, crm_clock):
    key = crm.authz.sessions.sign_in("ana", PASSWORD).session_key
    for _ in range(16):  # used every 29 minutes, for 8 hours
        crm_clock.advance(minutes=29)
        crm.authz.sessions.lookup(key)
    crm_clock.advance(minutes=29)
    with pytest.raises(AuthenticationError, match="session has expired"):
        crm.authz.sessions.lookup(key)


def test_sign_out_ends_one_session_or_all(crm):
    sessions = crm.authz.sessions
    one, two, three = (sessions.sign_in("ana", PASSWORD).session_key for _ in range(3))
    assert sessions.end(one) and not sessions.end(one)
    with pytest.raises(AuthenticationError):
        sessions.lookup(one)
    sessions.lookup(two)
    assert sessions.end_all("ana") == 2
    for key in (two, three):
        with pytest.raises(AuthenticationError):
            sessions.lookup(key)
    with pytest.raises(AuthenticationError, match="never existed"):
        sessions.lookup("made-up")


def test_as_session_acts_as_the_sessions_user_reading_the_user_once(crm):
    from crm_core.testing import statements

    crm.authz.users.add("bea", password=PASSWORD, roles=["admin"])
    key = crm.authz.sessions.sign_in("bea", PASSWORD).session_key
    with statements(crm) as sql, crm.authz.as_session(key) as user:
        assert user.name == "bea" and crm.current_user.name == "bea"
        assert crm.authz.can("admin.users")
    assert crm.current_user is None
    assert len(sql) == 2  # the session with its user, then the user's teams and roles: no second read
    crm.authz.sessions.end(key)
    with pytest.raises(AuthenticationError, match="ended"), crm.authz.as_session(key):
        pass
    assert crm.current_user is None


def test_the_table_keeps_only_a_hash_of_the_session_key(crm):
    from crm_core.auth.models import Session

    key = crm.authz.sessions.sign_in("ana", PASSWORD).session_key
    with crm.activate():
        stored = [s.key_hash for s in Session.select()]
    assert key not in stored and len(stored[0]) == 64


def test_a_new_password_ends_the_sessions(crm):
    key = crm.authz.sessions.sign_in("ana", PASSWORD).session_key
    crm.authz.users.set_password("ana", "another fine passphrase")
    with pytest.raises(AuthenticationError):
        crm.authz.sessions.lookup(key)


# -- TOTP ------------------------------------------------------------------------

RFC6238 = [  # (unix time, SHA-1, SHA-256, SHA-512), RFC 6238 appendix B
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("when, sha1, sha256, sha512", RFC6238)
def test_totp_matches_the_rfc_6238_test_vectors(when, sha1, sha256, sha512):
    seed = b"12345678901234567890"
    assert totp.totp(seed, when, digits=8, digest="sha1") == sha1
    assert totp.totp(seed + seed[:12], when, digits=8, digest="sha256") == sha256  # a 32-byte seed
    assert totp.totp(seed * 3 + seed[:4], when, digits=8, digest="sha512") == sha512  # a 64-byte seed


def test_hotp_matches_rfc_4226():
    expected = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]
    assert [totp.hotp(b"12345678901234567890", i) for i in range(10)] == expected


def _current_code(crm, secret, offset=0):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    return totp.totp(key, crm.clock.now().timestamp() + offset)


def test_two_factor_sign_in_with_codes_and_recovery_codes(crm, crm_clock):
    sessions = crm.authz.sessions
    setup = sessions.begin_two_factor("ana")
    assert setup.uri.startswith("otpauth://totp/CRM:ana?secret=")
    with pytest.raises(ValidationError, match="does not match"):
        sessions.confirm_two_factor("ana", "000000" if _current_code(crm, setup.secret) != "000000" else "111111")
    crm_clock.advance(seconds=30)
    recovery = sessions.confirm_two_factor("ana", _current_code(crm, setup.secret))
    assert len(recovery) == 10 and crm.authz.users.get("ana").two_factor
    with pytest.raises(AuthenticationError, match="two-factor code") as err:
        sessions.sign_in("ana", PASSWORD)
    assert err.value.code == "otp_required"
    crm_clock.advance(seconds=30)
    code = _current_code(crm, setup.secret)
    sessions.sign_in("ana", PASSWORD, otp=code)
    with pytest.raises(AuthenticationError, match="already used") as err:  # no replay
        sessions.sign_in("ana", PASSWORD, otp=code)
    assert err.value.code == "invalid_otp"
    sessions.sign_in("ana", PASSWORD, otp=recovery[0].upper())
    with pytest.raises(AuthenticationError, match="already used"):
        sessions.sign_in("ana", PASSWORD, otp=recovery[0])
    assert crm.authz.audit.entries(action="recovery.used")[0]["user"] == "ana"
    sessions.disable_two_factor("ana")
    sessions.sign_in("ana", PASSWORD)


def test_a_code_of_the_next_or_previous_step_is_accepted(crm, crm_clock):
    sessions = crm.authz.sessions
    setup = sessions.begin_two_factor("ana")
    sessions.confirm_two_factor("ana", _current_code(crm, setup.secret))
    crm_clock.advance(seconds=60)
    sessions.sign_in("ana", PASSWORD, otp=_current_code(crm, setup.secret, offset=30))
    crm_clock.advance(seconds=120)
    with pytest.raises(AuthenticationError):
        sessions.sign_in("ana", PASSWORD, otp=_current_code(crm, setup.secret, offset=90))
