"""Signing in and out, the two-factor prompt, throttling, session fixation, and pages that need a signed-in user."""

from __future__ import annotations

from typing import Any

from crm_core.auth import totp
from crm_desk.testing import DeskClient as Web

PASSWORD = "Correct-horse-42!"


def test_a_page_that_needs_sign_in_redirects_to_it(web: Web) -> None:
    response = web.get("/account")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=/account")


def test_sign_in_then_out(web: Web) -> None:
    response = web.sign_in("ana", PASSWORD, next="/account")
    assert response.status_code == 302 and response.headers["Location"] == "/account"
    page = web.get("/")
    assert page.status_code == 200 and "Ana García" in web.text and "My day" in web.text
    web.post("/signout")
    assert web.page.status_code == 302
    assert web.get("/").status_code == 302  # signed out: back to the sign-in page
    assert web.crm.authz.sessions.live("ana") == 0


def test_a_wrong_password_is_refused_without_saying_which_part_was_wrong(web: Web) -> None:
    response = web.sign_in("ana", "not-the-password")
    assert response.status_code == 401
    assert "Wrong user name or password." in web.text
    assert web.sign_in("nobody", PASSWORD).status_code == 401 and "Wrong user name or password." in web.text


def test_sign_in_is_rate_limited(web: Web) -> None:
    for _ in range(5):
        assert web.sign_in("ana", "wrong-password-1").status_code == 401
    response = web.sign_in("ana", PASSWORD)  # even the right password waits now
    assert response.status_code == 429
    assert "Too many failed sign-ins" in web.text


def test_next_never_leads_to_another_site(web: Web) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        web.get("/signin")
        response = web.post("/signin", {"name": "ana", "password": PASSWORD, "next": target})
        assert response.headers["Location"] == "/", target
        web.post("/signout")


def test_two_factor_prompt(web: Web) -> None:
    crm = web.crm
    setup = crm.authz.sessions.begin_two_factor("ana")
    clock_now = crm.clock.now().timestamp()
    crm.authz.sessions.confirm_two_factor("ana", totp.totp(totp._key(setup.secret), clock_now))
    response = web.sign_in("ana", PASSWORD)
    assert response.status_code == 302 and response.headers["Location"] == "/signin/code"
    assert web.get("/").status_code == 302  # not signed in yet
    web.get("/signin/code")
    assert "Two-factor code" in web.text
    assert web.post("/signin/code", {"code": "000000"}).status_code == 401
    crm.clock.advance(seconds=60)  # the next time step: a code never works twice
    code = totp.totp(totp._key(setup.secret), crm.clock.now().timestamp())
    response = web.post("/signin/code", {"code": code})
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert web.get("/").status_code == 200


def test_the_code_page_without_a_password_first_sends_back_to_sign_in(web: Web) -> None:
    assert web.get("/signin/code").headers["Location"] == "/signin"


def test_sign_in_starts_a_new_session_and_csrf_token(web: Web) -> None:
    web.get("/signin")
    with web.client.session_transaction() as before:
        before["planted"] = "by someone else"
        token_before = before["csrf_token"]
    web.post("/signin", {"name": "ana", "password": PASSWORD})
    with web.client.session_transaction() as after:
        assert "planted" not in after
        assert after.get("csrf_token") != token_before
        key = after["sid"]
    # the session the attacker might have known before sign-in is not the one signed in
    assert web.crm.authz.sessions.lookup(key).name == "ana"


def test_a_session_ended_elsewhere_signs_out_here(web: Web) -> None:
    web.sign_in("ana", PASSWORD)
    web.crm.authz.sessions.end_all("ana")
    assert web.get("/").status_code == 302


def test_a_page_reads_the_signed_in_user_once(web: Web) -> None:
    from crm_core.testing import statements

    web.sign_in("ana", PASSWORD)
    web.get("/account/password")
    with statements(web.crm) as sql:
        assert web.get("/account/password").status_code == 200
    # the session with its user, then the user with its teams and roles (it was read a second time to act as them);
    # the page itself reads nothing (on PostgreSQL the user's read is a prepared statement: counted, not named)
    assert len(sql) == 2, sql


def test_change_password_keeps_this_session_and_ends_the_others(web: Web, desk_app: Any) -> None:
    other = Web(web.crm)
    other.sign_in("ana", PASSWORD)
    web.sign_in("ana", PASSWORD)
    web.get("/account/password")
    response = web.post("/account/password", {"current": "wrong", "new": "x", "confirm": "x"})
    assert response.status_code == 400 and "The current password is wrong." in web.text
    new = "Another-horse-43!"
    response = web.post("/account/password", {"current": PASSWORD, "new": new, "confirm": new})
    assert response.status_code == 302
    assert web.get("/").status_code == 200
    assert other.get("/").status_code == 302
